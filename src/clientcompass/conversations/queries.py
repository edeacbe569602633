"""Reading a conversation's messages for the API and pages (tenant-scoped)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from clientcompass.conversations.schemas import MediaOut, MessageOut
from clientcompass.db import UnitOfWork
from clientcompass.errors import NotFound
from clientcompass.models import Contact, Conversation, Message, MessageMedia
from clientcompass.whatsapp.errors import explain


def media_out(item: MessageMedia) -> MediaOut:
    """A stored file as the thread shows it, served by this app at `/media/{id}`."""
    return MediaOut(
        id=item.id,
        content_type=item.content_type,
        size=item.size,
        filename=item.filename,
        state=item.state.value,
        url=f"/media/{item.id}",
    )


def message_out(message: Message, media: list[MessageMedia]) -> MessageOut:
    files = [media_out(item) for item in media] or [
        MediaOut(url=str(entry.get("url", "")), content_type=str(entry.get("content_type", "")))
        for entry in message.media
    ]
    details = {k: v for k, v in message.details.items() if k != "twilio"}
    return MessageOut(
        id=message.id,
        direction=message.direction,
        body=message.body,
        status=message.status,
        status_times=message.status_times,
        error_code=message.error_code,
        error=explain(message.error_code, message.error_message)
        if message.status.is_terminal_error
        else "",
        content_sid=message.content_sid,
        content_variables=message.content_variables,
        media=files,
        details=details,
        created_at=message.created_at,
    )


async def find_conversation_contact(
    uow: UnitOfWork, conversation_id: uuid.UUID
) -> tuple[Conversation, Contact]:
    assert uow.tenant_id is not None
    row = (
        await uow.session.execute(
            select(Conversation, Contact)
            .join(
                Contact,
                (Contact.tenant_id == Conversation.tenant_id)
                & (Contact.id == Conversation.contact_id),
            )
            .where(Conversation.tenant_id == uow.tenant_id)
            .where(Conversation.id == conversation_id)
        )
    ).first()
    if row is None:
        raise NotFound("That conversation does not exist.")
    return row[0], row[1]


async def list_messages(
    uow: UnitOfWork, conversation_id: uuid.UUID, *, limit: int = 200
) -> list[MessageOut]:
    assert uow.tenant_id is not None
    messages = list(
        await uow.session.scalars(
            select(Message)
            .where(Message.tenant_id == uow.tenant_id)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(limit)
        )
    )
    messages.reverse()
    media_rows = await uow.session.scalars(
        select(MessageMedia)
        .where(MessageMedia.tenant_id == uow.tenant_id)
        .where(MessageMedia.message_id.in_([m.id for m in messages]))
        .order_by(MessageMedia.position)
    )
    by_message: dict[uuid.UUID, list[MessageMedia]] = {}
    for item in media_rows:
        if item.message_id is not None:
            by_message.setdefault(item.message_id, []).append(item)
    return [message_out(message, by_message.get(message.id, [])) for message in messages]
