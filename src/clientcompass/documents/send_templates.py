"""The WhatsApp templates documents are sent with outside the 24-hour window: the one the
business chose for each kind, the suggested one a click creates and submits, their values,
and asking Twilio about a pending one before a send.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from clientcompass.auth.principal import Principal
from clientcompass.business.settings import get_setting, set_setting
from clientcompass.conversations import service as conversations
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.documents.money import format_zar
from clientcompass.documents.render import display_date
from clientcompass.documents.service import Kind
from clientcompass.documents.status import balance_cents
from clientcompass.errors import DomainError, InvalidInput, NotFound
from clientcompass.models import (
    Document,
    MessageTemplate,
    TemplateStatus,
)
from clientcompass.twilio_client import TwilioClient
from clientcompass.whatsapp import outbound
from clientcompass.whatsapp import templates as whatsapp_templates
from clientcompass.whatsapp.template_rules import (
    Button,
    TemplateDraft,
    TemplateKind,
    render_preview,
    send_values,
    template_numbers,
)
from clientcompass.work import UnitsOfWork

# The business's template for sending each kind outside the window (a template id).
TEMPLATE_KEY = "documents.send_template.{kind}"
SENDABLE = (Kind.QUOTE, Kind.INVOICE)


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


def greeting_name(document: Document) -> str:
    return document.recipient_name.split()[0] if document.recipient_name.split() else "there"


def amount_line(document: Document, link: str) -> str:
    """What the message says about the money, and where to see the document."""
    if document.kind == Kind.QUOTE:
        return f"Total {format_zar(document.total_cents)}. View it here: {link}"
    due = f" by {display_date(document.due_date)}" if document.due_date else ""
    return f"Amount due {format_zar(balance_cents(document))}{due}. View it here: {link}"


def template_values(document: Document, business_name: str, link: str) -> dict[str, str]:
    """{{1}} name, {{2}} number, {{3}} business, {{4}} amount and link, {{5}} document id."""
    return {
        "1": greeting_name(document),
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
