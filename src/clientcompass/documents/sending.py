"""Sending a quote or an invoice on WhatsApp, the way the inbox sends anything (the
templates it may need: send_templates.py; what the page offers: send_options.py).

The send is an ordinary outbound message in the customer's conversation (outbox row first,
ticks by callback), so the team sees it in the inbox. Inside the 24-hour window the stored
PDF goes as a document with a short message; outside it WhatsApp only carries an approved
template, so the business's document template goes instead, carrying the public link (and,
for quotes, Accept/Decline buttons whose ids name the quote).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.config import Settings
from clientcompass.conversations import service as conversations
from clientcompass.conversations.window import window_state
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.documents import quotes, service
from clientcompass.documents.money import format_zar
from clientcompass.documents.public import public_link
from clientcompass.documents.render import display_date
from clientcompass.documents.send_templates import (
    SENDABLE,
    chosen_template_id,
    greeting_name,
    template_outgoing,
    template_values,
)
from clientcompass.documents.service import Kind
from clientcompass.documents.status import EXPIRED, balance_cents, business_today, effective_status
from clientcompass.errors import Conflict, InvalidInput, NotFound
from clientcompass.models import (
    Conversation,
    Document,
    DocumentStatus,
    Message,
    MessageMedia,
    MessageTemplate,
    TemplateStatus,
)
from clientcompass.storage import Storage
from clientcompass.whatsapp import outbound, outbound_media
from clientcompass.whatsapp import templates as whatsapp_templates
from clientcompass.whatsapp.template_rules import (
    not_approved_message,
)


class NoApprovedTemplate(InvalidInput):
    code = "no_approved_template"


@dataclass(frozen=True)
class Sent:
    document: Document
    message: Message
    conversation_id: uuid.UUID
    template_id: uuid.UUID | None  # None: sent in the window as a PDF document


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


def window_text(document: Document, business_name: str, link: str) -> str:
    """The message that goes with the PDF inside the window."""
    name = greeting_name(document)
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
