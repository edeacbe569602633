"""Reading conversations and messages for the API and pages (tenant-scoped)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from clientcompass.db import UnitOfWork
from clientcompass.errors import NotFound
from clientcompass.models import Contact, Conversation, Message, MessageMedia
from clientcompass.whatsapp.errors import explain
from clientcompass.whatsapp.schemas import (
    ContactOut,
    ConversationOut,
    MediaOut,
    MessageOut,
    WindowOut,
)
from clientcompass.whatsapp.window import window_state


def contact_out(contact: Contact) -> ContactOut:
    return ContactOut(
        id=contact.id,
        phone=contact.phone_e164,
        name=contact.name,
        profile_name=contact.profile_name,
        email=contact.email,
        created_at=contact.created_at,
    )


def conversation_out(
    conversation: Conversation, contact: Contact, now: datetime
) -> ConversationOut:
    state = window_state(conversation.last_inbound_at, now)
    return ConversationOut(
        id=conversation.id,
        channel_id=conversation.channel_id,
        contact=contact_out(contact),
        status=conversation.status,
        last_message_at=conversation.last_message_at,
        last_message_preview=conversation.last_message_preview,
        unread_count=conversation.unread_count,
        window=WindowOut(
            is_open=state.is_open, closes_at=state.closes_at, seconds_left=state.seconds_left(now)
        ),
    )


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


async def list_conversations(
    uow: UnitOfWork, *, limit: int = 50, before: datetime | None = None
) -> list[ConversationOut]:
    """Newest activity first; `before` is the keyset cursor (last_message_at of the last row)."""
    assert uow.tenant_id is not None
    query = (
        select(Conversation, Contact)
        .join(
            Contact,
            (Contact.tenant_id == Conversation.tenant_id) & (Contact.id == Conversation.contact_id),
        )
        .where(Conversation.tenant_id == uow.tenant_id)
        .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(Conversation.last_message_at < before)
    rows = (await uow.session.execute(query)).all()
    return [conversation_out(conversation, contact, uow.now) for conversation, contact in rows]


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


async def get_conversation(uow: UnitOfWork, conversation_id: uuid.UUID) -> ConversationOut:
    conversation, contact = await find_conversation_contact(uow, conversation_id)
    return conversation_out(conversation, contact, uow.now)


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
