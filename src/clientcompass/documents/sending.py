"""Sending a quote or an invoice on WhatsApp, the way the inbox sends anything (the
templates it may need: send_templates.py; what the page offers: send_options.py).

The send is an ordinary outbound message in the customer's conversation (outbox row first,
ticks by callback), so the team sees it in the inbox. Inside the 24-hour window a quote goes
as one message, the number's answer card: the PDF as its header, a short text with the
short public link, and Accept/Decline buttons whose ids name the quote (without a card yet,
e.g. Twilio was down when the send prepared, the PDF goes as a document with a text).
An invoice goes as the PDF with a short message. Outside the window WhatsApp only carries
an approved template, so the business's document template goes instead, carrying the public
link, for quotes the Accept/Decline buttons, and the PDF when it is a card template.
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
from clientcompass.documents import quotes, service, stored_pdf
from clientcompass.documents.money import format_zar
from clientcompass.documents.public import public_link
from clientcompass.documents.render import display_date
from clientcompass.documents.send_templates import (
    SENDABLE,
    answer_card_sid,
    carries_file,
    chosen_template_id,
    greeting_name,
    previous_template_id,
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
    template_id: uuid.UUID | None  # None: sent in the window (answer card or PDF document)


async def _stand_in(uow: UnitOfWork, kind: Kind, chosen: MessageTemplate) -> MessageTemplate:
    """While a newly suggested template is reviewed, the approved one it replaced sends."""
    previous_id = await previous_template_id(uow, kind)
    if previous_id is None or previous_id == chosen.id:
        return chosen
    try:
        previous = await whatsapp_templates.get_template(uow, previous_id)
    except NotFound:
        return chosen
    usable = previous.status is TemplateStatus.APPROVED and previous.channel_id == chosen.channel_id
    return previous if usable else chosen


async def _ready_template(
    uow: UnitOfWork, kind: Kind, template_id: uuid.UUID | None, conversation: Conversation
) -> MessageTemplate:
    """The approved template for a closed window (`prepare_send` asked Twilio about a pending
    one before this transaction began)."""
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
    if template_id is None and template.status is not TemplateStatus.APPROVED:
        template = await _stand_in(uow, kind, template)
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
    return invoice_text(document, business_name, link)


def card_text(document: Document, business_name: str, link: str) -> str:
    """The text of the answer card, above its Accept/Decline buttons."""
    return (
        f"Hi {greeting_name(document)}, here is your quote {document.number} from "
        f"{business_name}: total {format_zar(document.total_cents)}. Tap Accept or Decline "
        f"below, or view it online: {link}"
    )


def invoice_text(document: Document, business_name: str, link: str) -> str:
    name = greeting_name(document)
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
    `send_templates.prepare_send` first, outside this transaction)."""
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
    header: MessageMedia | None = None  # the PDF a content template carries in its header

    async def pdf() -> MessageMedia:
        if rendered is not None:
            return await store_pdf(uow, storage, document, rendered)
        # Issued earlier: a copy of the stored PDF (checked against its hash), made in the
        # database; the original stays on legal hold.
        return await outbound_media.store_copy(
            uow,
            document.tenant_id,
            await stored_pdf.stored_pdf_file(uow, document),
            filename=service.pdf_filename(document),
        )

    def path_of(media: MessageMedia) -> str:
        return outbound_media.header_path(
            settings.secret_key, document.tenant_id, media.id, media.filename
        )

    if window_state(conversation.last_inbound_at, uow.now).is_open:
        card = (
            await answer_card_sid(uow, conversation.channel_id, settings)
            if kind is Kind.QUOTE
            else ""
        )
        media = await pdf()
        if card:
            header, text = media, card_text(document, business_name, link)
            outgoing = outbound.Outgoing(
                content_sid=card,
                content_variables={"1": text, "2": path_of(media), "3": str(document.id)},
                preview_text=text,
            )
        else:
            outgoing = outbound.Outgoing(
                body=window_text(document, business_name, link), media_ids=(media.id,)
            )
    else:
        chosen = await _ready_template(uow, kind, template_id, conversation)
        header = await pdf() if carries_file(chosen) else None
        values = template_values(
            document, business_name, link, path_of(header) if header is not None else ""
        )
        outgoing = template_outgoing(chosen, values)
    message = await conversations.send(uow, actor, conversation.id, outgoing)
    if header is not None:
        await outbound_media.attach_header(uow, message, header.id)
    await quotes.mark_sent(uow, document, actor_id=actor.user_id, message_id=message.id)
    return Sent(document, message, conversation.id, chosen.id if chosen else None)
