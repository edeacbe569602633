"""Sending a quote or an invoice on WhatsApp, the way the inbox sends anything.

The send is an ordinary outbound message in the customer's conversation (outbox row first,
ticks by callback), so the team sees it in the inbox. Inside the 24-hour window the stored
PDF goes as a document with a short message; outside it WhatsApp only carries an approved
template, so the business's document template goes instead, carrying the public link (and,
for quotes, Accept/Decline buttons whose ids name the quote).
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.business.settings import get_setting, set_setting
from clientcompass.config import Settings
from clientcompass.conversations import service as conversations
from clientcompass.conversations.window import window_state
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.documents import quotes, service
from clientcompass.documents.money import format_zar
from clientcompass.documents.public import public_link
from clientcompass.documents.render import display_date
from clientcompass.documents.service import Kind
from clientcompass.documents.status import EXPIRED, balance_cents, business_today, effective_status
from clientcompass.errors import Conflict, DomainError, InvalidInput, NotFound
from clientcompass.models import (
    Contact,
    Conversation,
    Document,
    DocumentStatus,
    Message,
    MessageMedia,
    MessageTemplate,
    TemplateStatus,
)
from clientcompass.storage import Storage
from clientcompass.twilio_client import TwilioClient
from clientcompass.whatsapp import outbound, outbound_media
from clientcompass.whatsapp import templates as whatsapp_templates
from clientcompass.whatsapp.template_rules import (
    Button,
    TemplateDraft,
    TemplateKind,
    not_approved_message,
    render_preview,
    send_values,
    template_numbers,
)
from clientcompass.work import UnitsOfWork

# The business's template for sending each kind outside the window (a template id).
TEMPLATE_KEY = "documents.send_template.{kind}"
SENDABLE = (Kind.QUOTE, Kind.INVOICE)


class NoApprovedTemplate(InvalidInput):
    code = "no_approved_template"


@dataclass(frozen=True)
class Sent:
    document: Document
    message: Message
    conversation_id: uuid.UUID
    template_id: uuid.UUID | None  # None: sent in the window as a PDF document


@dataclass(frozen=True)
class Suggested:
    """The template the app proposes for a kind, as the one-click button creates it."""

    name: str
    kind: TemplateKind
    body: str
    samples: dict[str, str]
    buttons: tuple[Button, ...] = ()


SUGGESTED = {
    Kind.QUOTE: Suggested(
        name="quote_ready",
        kind=TemplateKind.QUICK_REPLY,
        body="Hi {{1}}, your quote {{2}} from {{3}} is ready: {{4}}\n\nTap Accept or Decline below.",
        samples={
            "1": "Sipho",
            "2": "QUO-2026-0001",
            "3": "Zoë's Electrical",
            "4": "Total R 2 759,98. View it here: https://example.co.za/d/abc",
            "5": "3f2b8c1e-6d4a-4f5e-9b7c-2a1d0e9f8c7b",
        },
        # {{5}} is the quote's id: the tapped button tells us which quote was answered.
        buttons=(
            Button(title="Accept", id="accept:{{5}}"),
            Button(title="Decline", id="decline:{{5}}"),
        ),
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


def _greeting_name(document: Document) -> str:
    return document.recipient_name.split()[0] if document.recipient_name.split() else "there"


def amount_line(document: Document, link: str) -> str:
    """What the message says about the money, and where to see the document."""
    if document.kind == Kind.QUOTE:
        return f"Total {format_zar(document.total_cents)}. View it here: {link}"
    due = f" by {display_date(document.due_date)}" if document.due_date else ""
    return f"Amount due {format_zar(balance_cents(document))}{due}. View it here: {link}"


def window_text(document: Document, business_name: str, link: str) -> str:
    """The message that goes with the PDF inside the window."""
    name = _greeting_name(document)
    if document.kind == Kind.QUOTE:
        return (
            f"Hi {name}, here is your quote {document.number} from {business_name}: "
            f"total {format_zar(document.total_cents)}. Reply ACCEPT or DECLINE, or open {link}"
        )
    due = f", due by {display_date(document.due_date)}" if document.due_date else ""
    return (
        f"Hi {name}, here is your invoice {document.number} from {business_name}: "
        f"{format_zar(balance_cents(document))}{due}. Please use {document.number} as the "
        f"payment reference. View it online: {link}"
    )


def template_values(document: Document, business_name: str, link: str) -> dict[str, str]:
    """{{1}} name, {{2}} number, {{3}} business, {{4}} amount and link, {{5}} document id."""
    return {
        "1": _greeting_name(document),
        "2": document.number or "",
        "3": business_name,
        "4": amount_line(document, link),
        "5": str(document.id),
    }


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


async def chosen_template_id(uow: UnitOfWork, kind: Kind) -> uuid.UUID | None:
    stored = await get_setting(uow, TEMPLATE_KEY.format(kind=kind.value))
    try:
        return uuid.UUID(str(stored)) if stored else None
    except ValueError:
        return None


async def choose_template(
    uow: UnitOfWork, actor: Principal, kind: Kind, template_id: uuid.UUID
) -> None:
    """Remember the template that sends this kind outside the window."""
    actor.require_manager()
    await whatsapp_templates.get_template(uow, template_id)
    await set_setting(uow, TEMPLATE_KEY.format(kind=kind.value), str(template_id))


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


async def _ready_template(
    uow: UnitOfWork, kind: Kind, template_id: uuid.UUID | None, conversation: Conversation
) -> MessageTemplate:
    """The approved template for a closed window (`refresh_pending_template` asked Twilio
    about a pending one before this transaction began)."""
    noun = service.NOUNS[kind]
    wanted = template_id or await chosen_template_id(uow, kind)
    if wanted is None:
        raise NoApprovedTemplate(
            f"The customer's 24-hour WhatsApp window is closed, so the {noun} can only go with "
            "an approved template, and none is chosen yet. Create the suggested template "
            "(one click on the document's page), and send once WhatsApp approves it.",
            field="template_id",
        )
    try:
        template = await whatsapp_templates.get_template(uow, wanted)
    except NotFound as exc:
        raise NoApprovedTemplate(
            "The chosen template no longer exists. Choose another one.", field="template_id"
        ) from exc
    if template.status is not TemplateStatus.APPROVED:
        raise NoApprovedTemplate(
            f"The customer's 24-hour WhatsApp window is closed, so the {noun} needs an approved "
            f"template. {not_approved_message(template)}",
            field="template_id",
        )
    if template.channel_id != conversation.channel_id:
        raise InvalidInput(
            "That template belongs to another WhatsApp number than the customer's conversation.",
            field="template_id",
        )
    return template


async def store_pdf(
    uow: UnitOfWork, storage: Storage, document: Document, data: bytes
) -> MessageMedia:
    """The PDF as a file to send, stored like an upload (Twilio fetches it by signed URL)."""
    return await outbound_media.store_file(
        uow,
        document.tenant_id,
        storage,
        filename=service.pdf_filename(document),
        content_type="application/pdf",
        data=data,
    )


def _check_sendable(document: Document, kind: Kind, today_status: str) -> None:
    if today_status == EXPIRED:
        raise Conflict(
            f"This quote expired on {display_date(document.valid_until)}. "
            "Duplicate it to send a fresh one."
        )
    if kind is Kind.QUOTE and document.status == DocumentStatus.DECLINED.value:
        raise Conflict("The customer declined this quote. Duplicate it to send a new one.")
    if kind is Kind.INVOICE and document.status == DocumentStatus.VOIDED.value:
        raise Conflict("This invoice was cancelled by a credit note, so it is not sent.")


async def send_document(
    uow: UnitOfWork,
    actor: Principal,
    document_id: uuid.UUID,
    kind: Kind,
    *,
    settings: Settings,
    keyring: Keyring,
    storage: Storage,
    template_id: uuid.UUID | None = None,
) -> Sent:
    """Finalise if needed, then queue the document in the customer's conversation (call
    `refresh_pending_template` first, outside this transaction)."""
    if kind not in SENDABLE:
        raise InvalidInput("Only quotes and invoices are sent on WhatsApp.")
    document, rendered = await service.finalise_with_pdf(
        uow, actor, document_id, kind, keyring=keyring, storage=storage
    )
    profile = await business.profile_of(uow, document.tenant_id)
    _check_sendable(
        document, kind, effective_status(document, business_today(profile.timezone, uow.now))
    )
    conversation = await conversations.conversation_with(uow, document.contact_id)
    assert conversation is not None
    link = public_link(settings, document)
    business_name = profile.trading_name
    chosen: MessageTemplate | None = None
    if window_state(conversation.last_inbound_at, uow.now).is_open:
        if rendered is None:  # issued earlier: the stored PDF, checked against its hash
            _, rendered = await service.pdf_bytes(
                uow, document.id, kind, keyring=keyring, storage=storage
            )
        media = await store_pdf(uow, storage, document, rendered)
        outgoing = outbound.Outgoing(
            body=window_text(document, business_name, link), media_ids=(media.id,)
        )
    else:
        chosen = await _ready_template(uow, kind, template_id, conversation)
        outgoing = template_outgoing(chosen, template_values(document, business_name, link))
    message = await conversations.send(uow, actor, conversation.id, outgoing)
    await quotes.mark_sent(uow, document, actor_id=actor.user_id, message_id=message.id)
    return Sent(document, message, conversation.id, chosen.id if chosen else None)


async def create_suggested_template(
    uow: UnitOfWork, actor: Principal, keyring: Keyring, twilio: TwilioClient, kind: Kind
) -> MessageTemplate:
    """One click: create the suggested UTILITY template, submit it for approval and make it
    the one this kind is sent with. Clicking again reuses the template made the first time."""
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
        template = await whatsapp_templates.create(
            uow,
            actor,
            TemplateDraft(
                name=suggested.name,
                category="UTILITY",
                body=suggested.body,
                kind=suggested.kind.value,
                variables=suggested.samples,
                buttons=suggested.buttons,
                channel_id=channels[0].id,
            ),
        )
    if template.status is TemplateStatus.DRAFT:
        submission = await whatsapp_templates.submit(uow, actor, keyring, twilio, template.id)
        template = submission.template
    await set_setting(uow, TEMPLATE_KEY.format(kind=kind.value), str(template.id))
    await uow.session.flush()
    return template


@dataclass(frozen=True)
class SendOptions:
    """What the document page needs to offer the right way to send."""

    connected: bool
    window_open: bool
    chosen: MessageTemplate | None
    approved: list[MessageTemplate]
    conversation_id: uuid.UUID | None = None


async def send_options(uow: UnitOfWork, document: Document) -> SendOptions:
    """Read-only: the conversation that a send would use, without creating one."""
    channels = await conversations.connected_channels(uow)
    if not channels:
        return SendOptions(False, False, None, [])
    conversation = await conversations.conversation_with(uow, document.contact_id, create=False)
    is_open = (
        conversation is not None and window_state(conversation.last_inbound_at, uow.now).is_open
    )
    channel_id = conversation.channel_id if conversation is not None else channels[0].id
    approved = await whatsapp_templates.list_approved(uow, channel_id)
    chosen_id = await chosen_template_id(uow, Kind(document.kind))
    chosen = None
    if chosen_id is not None:
        try:
            chosen = await whatsapp_templates.get_template(uow, chosen_id)
        except NotFound:
            chosen = None
    return SendOptions(
        True, is_open, chosen, approved, conversation.id if conversation is not None else None
    )


async def contact_of(uow: UnitOfWork, document: Document) -> Contact | None:
    return await uow.session.get(Contact, (document.tenant_id, document.contact_id))
