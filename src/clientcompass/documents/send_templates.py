"""The WhatsApp content documents are sent with: outside the 24-hour window the template the
business chose for each kind (the suggested one a click creates and submits), and inside it
the answer card; their values; and what a send prepares with Twilio before its transaction.

The answer card is one `twilio/card` per WhatsApp number, created on first use and remembered
in the tenant's settings: the PDF as its header (a variable path under the app's fixed
`/m/` prefix), the message as its text, and Accept/Decline quick replies whose ids name the
quote. Inside the window WhatsApp needs no approval for it. The suggested quote template is
the same card for outside the window (approved once, with a document header); a business
whose older `quote_ready` template (buttons, no PDF) is approved keeps sending with it until
the new one is approved.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import select

from clientcompass.auth.principal import Principal
from clientcompass.business.settings import get_setting, set_setting
from clientcompass.config import Settings
from clientcompass.conversations import service as conversations
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.documents.money import format_zar
from clientcompass.documents.render import display_date
from clientcompass.documents.service import Kind
from clientcompass.documents.status import balance_cents
from clientcompass.errors import DomainError, InvalidInput, NotFound
from clientcompass.models import (
    Channel,
    Document,
    MessageTemplate,
    TemplateStatus,
)
from clientcompass.storage import Storage
from clientcompass.twilio_client import (
    OutcomeUnknown,
    TwilioClient,
    TwilioRejected,
    TwilioUnavailable,
)
from clientcompass.whatsapp import channels as whatsapp_channels
from clientcompass.whatsapp import outbound, outbound_media
from clientcompass.whatsapp import templates as whatsapp_templates
from clientcompass.whatsapp.content import answer_card_payload
from clientcompass.whatsapp.template_rules import (
    Button,
    TemplateDraft,
    TemplateKind,
    render_preview,
    send_values,
    template_numbers,
)
from clientcompass.work import UnitsOfWork

log = structlog.get_logger(__name__)

# The business's template for sending each kind outside the window (a template id).
TEMPLATE_KEY = "documents.send_template.{kind}"
# The template it replaced while that was approved: used until the new one is approved.
PREVIOUS_TEMPLATE_KEY = "documents.send_template.{kind}.previous"
# The answer card of a WhatsApp number: {"sid": content sid, "prefix": its media prefix}.
ANSWER_CARD_KEY = "documents.answer_card.{channel_id}"
SENDABLE = (Kind.QUOTE, Kind.INVOICE)
# WhatsApp's reviewers open a document header's sample: it stays reachable this long.
SAMPLE_LIFETIME_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Suggested:
    """The template the app proposes for a kind, as the one-click button creates it."""

    name: str
    kind: TemplateKind
    body: str
    samples: dict[str, str]
    buttons: tuple[Button, ...] = ()
    media_path: str = ""  # after the app's media prefix, e.g. "{{6}}"


SUGGESTED = {
    Kind.QUOTE: Suggested(
        name="quote_with_pdf",
        kind=TemplateKind.CARD,
        body="Hi {{1}}, your quote {{2}} from {{3}} is ready: {{4}}\n\nTap Accept or Decline below.",
        samples={
            "1": "Sipho",
            "2": "QUO-2026-0001",
            "3": "Zoë's Electrical",
            "4": "Total R 2 759,98. View it here: https://example.co.za/d/abc",
            "5": "3f2b8c1e-6d4a-4f5e-9b7c-2a1d0e9f8c7b",
            "6": "sample/QUO-2026-0001.pdf",
        },
        # {{5}} is the quote's id: the tapped button tells us which quote was answered.
        buttons=(
            Button(title="Accept", id="accept:{{5}}"),
            Button(title="Decline", id="decline:{{5}}"),
        ),
        # {{6}} is the PDF's signed path: the template's document header.
        media_path="{{6}}",
    ),
    Kind.INVOICE: Suggested(
        name="invoice_ready",
        kind=TemplateKind.TEXT,
        body="Hi {{1}}, your invoice {{2}} from {{3}} is ready: {{4}}\n\nThank you for your business.",
        samples={
            "1": "Sipho",
            "2": "INV-2026-0001",
            "3": "Zoë's Electrical",
            "4": "Amount due R 2 759,98 by 12 March 2026. View it here: https://example.co.za/d/abc",
        },
    ),
}


def greeting_name(document: Document) -> str:
    return document.recipient_name.split()[0] if document.recipient_name.split() else "there"


def amount_line(document: Document, link: str) -> str:
    """What the message says about the money, and where to see the document."""
    if document.kind == Kind.QUOTE:
        return f"Total {format_zar(document.total_cents)}. View it here: {link}"
    due = f" by {display_date(document.due_date)}" if document.due_date else ""
    return f"Amount due {format_zar(balance_cents(document))}{due}. View it here: {link}"


def template_values(
    document: Document, business_name: str, link: str, pdf_path: str = ""
) -> dict[str, str]:
    """{{1}} name, {{2}} number, {{3}} business, {{4}} amount and link, {{5}} document id,
    {{6}} the PDF's path under the media prefix (a card's document header)."""
    values = {
        "1": greeting_name(document),
        "2": document.number or "",
        "3": business_name,
        "4": amount_line(document, link),
        "5": str(document.id),
    }
    if pdf_path:
        values["6"] = pdf_path
    return values


def sample_pdf(title: str) -> bytes:
    """A one-page PDF saying `title` (ASCII): the document header's sample for review."""
    text = title.encode("ascii", "replace").replace(b"(", b"[").replace(b")", b"]")
    content = b"BT /F1 24 Tf 72 760 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


async def _sample_header(
    uow: UnitOfWork, tenant_id: uuid.UUID, storage: Storage, settings: Settings
) -> str:
    """A real file under the media prefix for the header's sample: WhatsApp fetches it."""
    media = await outbound_media.store_file(
        uow,
        tenant_id,
        storage,
        filename="Quote-QUO-2026-0001.pdf",
        content_type="application/pdf",
        data=sample_pdf("Quote QUO-2026-0001 (sample)"),
    )
    return outbound_media.header_path(
        settings.secret_key, tenant_id, media.id, media.filename, lifetime=SAMPLE_LIFETIME_SECONDS
    )


def carries_file(template: MessageTemplate) -> bool:
    """A template whose header is the document's PDF (its address is a variable)."""
    return template.kind == TemplateKind.CARD.value and "{{" in template.media_url


def template_outgoing(template: MessageTemplate, values: dict[str, str]) -> outbound.Outgoing:
    """The template's placeholders (text and button ids, such as `accept:{{5}}`) filled and
    checked as any template send is."""
    used = {str(n) for n in template_numbers(template)}
    filled = send_values(template, {k: v for k, v in values.items() if k in used})
    return outbound.Outgoing(
        content_sid=template.content_sid,
        content_variables=filled,
        preview_text=render_preview(template, filled),
    )


async def _stored_id(uow: UnitOfWork, key: str) -> uuid.UUID | None:
    stored = await get_setting(uow, key)
    try:
        return uuid.UUID(str(stored)) if stored else None
    except ValueError:
        return None


async def chosen_template_id(uow: UnitOfWork, kind: Kind) -> uuid.UUID | None:
    return await _stored_id(uow, TEMPLATE_KEY.format(kind=kind.value))


async def previous_template_id(uow: UnitOfWork, kind: Kind) -> uuid.UUID | None:
    """The approved template the chosen one replaced, while the chosen one is reviewed."""
    return await _stored_id(uow, PREVIOUS_TEMPLATE_KEY.format(kind=kind.value))


async def answer_card_sid(uow: UnitOfWork, channel_id: uuid.UUID, settings: Settings) -> str:
    """The channel's answer card for this app's address; "" until one is created."""
    stored = await get_setting(uow, ANSWER_CARD_KEY.format(channel_id=channel_id))
    if not isinstance(stored, dict):
        return ""
    if stored.get("prefix") != outbound_media.media_prefix(settings.base_url):
        return ""  # made for another address of the app: its header would not load
    return str(stored.get("sid") or "")


async def _create_answer_card(
    units: UnitsOfWork,
    keyring: Keyring,
    twilio: TwilioClient,
    tenant_id: uuid.UUID,
    channel: Channel,
    prefix: str,
) -> None:
    """Create the channel's answer card in Twilio's Content API (read, release, call, write)."""
    credentials = whatsapp_channels.credentials(channel, keyring)
    try:
        created = await twilio.create_content(credentials, answer_card_payload(prefix))
    except (TwilioRejected, TwilioUnavailable, OutcomeUnknown) as exc:
        # The send goes as a PDF with a text this time, and the next one tries again.
        log.warning("answer card not created", channel_id=str(channel.id), error=exc.message)
        return
    async with units(tenant_id) as uow:
        await set_setting(
            uow,
            ANSWER_CARD_KEY.format(channel_id=channel.id),
            {"sid": str(created["sid"]), "prefix": prefix},
        )


async def prepare_send(
    units: UnitsOfWork,
    keyring: Keyring,
    twilio: TwilioClient,
    actor: Principal,
    kind: Kind,
    template_id: uuid.UUID | None,
    *,
    settings: Settings,
) -> None:
    """What a send needs from Twilio, asked ahead of the send's transaction so no lock is held
    while Twilio answers: a pending template's verdict, and for a quote the number's answer
    card (made once). Twilio unreachable changes nothing, and the send says or copes."""
    await refresh_pending_template(units, keyring, twilio, actor, kind, template_id)
    if kind is not Kind.QUOTE:
        return
    async with units(actor.tenant_id) as uow:
        missing = [
            channel
            for channel in await conversations.connected_channels(uow)
            if not await answer_card_sid(uow, channel.id, settings)
        ]
    for channel in missing:
        await _create_answer_card(
            units,
            keyring,
            twilio,
            actor.tenant_id,
            channel,
            outbound_media.media_prefix(settings.base_url),
        )


async def refresh_pending_template(
    units: UnitsOfWork,
    keyring: Keyring,
    twilio: TwilioClient,
    actor: Principal,
    kind: Kind,
    template_id: uuid.UUID | None,
) -> None:
    """Before a send: if its template is still pending, ask Twilio now (approval often lands
    minutes after submitting). Done ahead of the send's transaction, so no lock is held while
    Twilio answers; Twilio unreachable leaves it pending, and the send says so."""
    async with units(actor.tenant_id) as uow:
        wanted = template_id or await chosen_template_id(uow, kind)
        if wanted is None:
            return
        try:
            pending = (
                await whatsapp_templates.get_template(uow, wanted)
            ).status is TemplateStatus.PENDING
        except NotFound:
            return
    if pending:
        with contextlib.suppress(DomainError):
            await whatsapp_templates.sync_one(units, keyring, twilio, actor.tenant_id, wanted)


async def create_suggested_template(
    uow: UnitOfWork,
    actor: Principal,
    keyring: Keyring,
    twilio: TwilioClient,
    kind: Kind,
    *,
    settings: Settings,
    storage: Storage,
) -> MessageTemplate:
    """One click: create the suggested UTILITY template, submit it for approval and make it
    the one this kind is sent with (an approved one it replaces stays in use until WhatsApp
    approves the new one). Clicking again reuses the template made the first time."""
    actor.require_manager()
    if kind not in SENDABLE:
        raise InvalidInput("Only quotes and invoices are sent on WhatsApp.")
    channels = await conversations.connected_channels(uow)
    if not channels:
        raise conversations.WhatsAppNotConnected(
            "Connect WhatsApp in Settings → WhatsApp before creating templates."
        )
    suggested = SUGGESTED[kind]
    template = await uow.session.scalar(
        select(MessageTemplate)
        .where(MessageTemplate.tenant_id == actor.tenant_id)
        .where(MessageTemplate.channel_id == channels[0].id)
        .where(MessageTemplate.name == suggested.name)
    )
    if template is None:
        samples = dict(suggested.samples)
        if suggested.media_path:
            samples["6"] = await _sample_header(uow, actor.tenant_id, storage, settings)
        template = await whatsapp_templates.create(
            uow,
            actor,
            TemplateDraft(
                name=suggested.name,
                category="UTILITY",
                body=suggested.body,
                kind=suggested.kind.value,
                variables=samples,
                buttons=suggested.buttons,
                media_url=(
                    outbound_media.media_prefix(settings.base_url) + suggested.media_path
                    if suggested.media_path
                    else ""
                ),
                channel_id=channels[0].id,
            ),
        )
    if template.status is TemplateStatus.DRAFT:
        submission = await whatsapp_templates.submit(uow, actor, keyring, twilio, template.id)
        template = submission.template
    replaced = await chosen_template_id(uow, kind)
    if replaced is not None and replaced != template.id:
        try:
            old = await whatsapp_templates.get_template(uow, replaced)
        except NotFound:
            old = None
        if old is not None and old.status is TemplateStatus.APPROVED:
            await set_setting(uow, PREVIOUS_TEMPLATE_KEY.format(kind=kind.value), str(old.id))
    await set_setting(uow, TEMPLATE_KEY.format(kind=kind.value), str(template.id))
    await uow.session.flush()
    return template
