"""What the document page offers for sending: read-only, it creates no conversation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from clientcompass.conversations import service as conversations
from clientcompass.conversations.window import window_state
from clientcompass.db import UnitOfWork
from clientcompass.documents.send_templates import SUGGESTED, chosen_template_id
from clientcompass.documents.service import Kind
from clientcompass.errors import NotFound
from clientcompass.models import (
    Document,
    MessageTemplate,
)
from clientcompass.whatsapp import templates as whatsapp_templates


@dataclass(frozen=True)
class SendOptions:
    """What the document page needs to offer the right way to send."""

    connected: bool
    window_open: bool
    chosen: MessageTemplate | None
    approved: list[MessageTemplate]
    conversation_id: uuid.UUID | None = None
    # The suggested template (for a quote: the PDF with Accept/Decline) is not made on this
    # number yet, e.g. a business still on the older quote_ready template: offer it.
    suggestion_missing: bool = False


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
    suggested = SUGGESTED.get(Kind(document.kind))
    made = {t.name for t in await whatsapp_templates.list_templates(uow, channel_id=channel_id)}
    return SendOptions(
        True,
        is_open,
        chosen,
        approved,
        conversation.id if conversation is not None else None,
        suggestion_missing=suggested is not None and suggested.name not in made,
    )
