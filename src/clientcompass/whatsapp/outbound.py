"""Sending: the outbox row first (committed as `queued` before the API answers), then a
worker hands it to Twilio. A send whose outcome is unknown is reconciled, never resent blindly."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from sqlalchemy import case, func, select, update

from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput
from clientcompass.models import Channel, Contact, Conversation, Direction, Message, MessageStatus
from clientcompass.whatsapp import outbound_media

MAX_TEXT = 4096
SEND_TASK = "whatsapp.send_message"
RECONCILE_TASK = "whatsapp.reconcile_message"
MAX_TRANSIENT_ATTEMPTS = 8


@dataclass(frozen=True)
class Outgoing:
    body: str = ""
    media_ids: tuple[uuid.UUID, ...] = ()
    content_sid: str = ""
    content_variables: dict[str, str] | None = None
    preview_text: str = ""
    # The sender's idempotency key (the composer's per-draft UUID, or the API's): a second
    # send with it finds the message the first one stored (conversations.send()).
    client_key: uuid.UUID | None = None


def send_lock(conversation_id: uuid.UUID) -> str:
    """procrastinate's lock for a conversation's sends: one at a time, and none starts while an
    earlier one waits in the queue (a retry keeps its job, and so its place)."""
    return f"send:{conversation_id}"


def backoff(attempt: int) -> timedelta:
    """1 s, 2 s, 4 s … capped at 5 minutes."""
    return timedelta(seconds=min(300, 2 ** max(0, attempt - 1)))


def check(outgoing: Outgoing) -> None:
    """What WhatsApp carries at all: something to send, within its length."""
    if not (outgoing.body.strip() or outgoing.media_ids or outgoing.content_sid):
        raise InvalidInput("Type a message, attach a file or choose a template.", field="body")
    if len(outgoing.body) > MAX_TEXT:
        raise InvalidInput(f"A WhatsApp message holds at most {MAX_TEXT} characters.", field="body")


async def enqueue(
    uow: UnitOfWork, conversation: Conversation, author_id: uuid.UUID | None, outgoing: Outgoing
) -> Message:
    """Store a message `queued` in the outbox, with its send job in the same transaction.

    Only `conversations.send()` calls this: the window and the live event are its rules.
    `author_id` is the member who wrote it; None for what the app sends by itself.
    """
    assert uow.tenant_id is not None
    check(outgoing)
    message = Message(
        tenant_id=uow.tenant_id,
        id=uuid.uuid4(),
        conversation_id=conversation.id,
        channel_id=conversation.channel_id,
        direction=Direction.OUTBOUND,
        provider_sid=None,
        body=outgoing.body
        if not outgoing.content_sid
        else (outgoing.preview_text or outgoing.body),
        media=[],
        content_sid=outgoing.content_sid,
        content_variables=outgoing.content_variables or {},
        details={},
        status=MessageStatus.QUEUED,
        status_times={MessageStatus.QUEUED.value: uow.now.isoformat()},
        error_message="",
        author_id=author_id,
        client_key=outgoing.client_key,
        send_attempts=0,
        next_attempt_at=uow.now,
        created_at=uow.now,
    )
    uow.session.add(message)
    await uow.session.flush()
    if outgoing.media_ids:
        files = await outbound_media.attach(uow, message, list(outgoing.media_ids))
        message.media = [
            {
                "media_id": str(f.id),
                "content_type": f.content_type,
                "filename": f.filename,
                "size": f.size,
            }
            for f in files
        ]
    conversation.last_message_at = uow.now
    conversation.last_message_preview = (message.body or "📎 Attachment")[:200]
    await uow.session.flush()
    # One conversation's sends go one at a time, in the order they were queued: a flow's
    # greeting and its first question (one transaction, two messages) arrive in that order.
    uow.defer_job(
        SEND_TASK,
        lock=send_lock(conversation.id),
        tenant_id=str(uow.tenant_id),
        message_id=str(message.id),
    )
    return message


@dataclass(frozen=True)
class Claimed:
    message: Message
    channel: Channel
    contact: Contact


async def claim_for_sending(uow: UnitOfWork, message_id: uuid.UUID) -> Claimed | None:
    """Lock a queued message and mark it `sending`; None if another worker has it or it is done.

    The caller commits this before calling Twilio, so a crash after the call leaves a
    `sending` row that the sweeper reconciles instead of sending again.
    """
    assert uow.tenant_id is not None
    row = (
        await uow.session.execute(
            select(Message, Channel, Contact)
            .join(
                Channel,
                (Channel.tenant_id == Message.tenant_id) & (Channel.id == Message.channel_id),
            )
            .join(
                Conversation,
                (Conversation.tenant_id == Message.tenant_id)
                & (Conversation.id == Message.conversation_id),
            )
            .join(
                Contact,
                (Contact.tenant_id == Conversation.tenant_id)
                & (Contact.id == Conversation.contact_id),
            )
            .where(Message.tenant_id == uow.tenant_id)
            .where(Message.id == message_id)
            .where(Message.status == MessageStatus.QUEUED)
            .with_for_update(of=Message, skip_locked=True)
        )
    ).first()
    if row is None:
        return None
    message, channel, contact = row
    message.status = MessageStatus.SENDING
    message.send_started_at = uow.now
    message.send_attempts += 1
    await uow.session.flush()
    return Claimed(message, channel, contact)


async def recipient_phone(uow: UnitOfWork, message: Message) -> str:
    """The number a message goes to: its conversation's contact."""
    phone = await uow.session.scalar(
        select(Contact.phone_e164)
        .join(
            Conversation,
            (Conversation.tenant_id == Contact.tenant_id) & (Conversation.contact_id == Contact.id),
        )
        .where(Conversation.tenant_id == message.tenant_id)
        .where(Conversation.id == message.conversation_id)
    )
    assert phone is not None
    return str(phone)


async def record_accepted(
    uow: UnitOfWork, message_id: uuid.UUID, sid: str, twilio_status: str
) -> None:
    """Twilio took the message: keep its sid; statuses arrive by callback from here on.

    A callback may have outrun this (it carries our id) and moved the message on already:
    then only a missing sid is filled in and the status is left where it is.
    """
    assert uow.tenant_id is not None
    sending = Message.status == MessageStatus.SENDING
    accepted_times = Message.status_times.op("||")(
        {
            MessageStatus.ACCEPTED.value: uow.now.isoformat(),
            "twilio_" + twilio_status: uow.now.isoformat(),
        }
    )
    await uow.session.execute(
        update(Message)
        .where(Message.tenant_id == uow.tenant_id)
        .where(Message.id == message_id)
        .values(
            provider_sid=func.coalesce(Message.provider_sid, sid),
            status=case((sending, MessageStatus.ACCEPTED), else_=Message.status),
            status_times=case((sending, accepted_times), else_=Message.status_times),
        )
    )


async def record_rejected(
    uow: UnitOfWork, message_id: uuid.UUID, code: int | None, message: str
) -> None:
    assert uow.tenant_id is not None
    await uow.session.execute(
        update(Message)
        .where(Message.tenant_id == uow.tenant_id)
        .where(Message.id == message_id)
        .where(Message.status.in_([MessageStatus.SENDING, MessageStatus.QUEUED]))
        .values(
            status=MessageStatus.FAILED,
            error_code=code,
            error_message=message,
            status_times=Message.status_times.op("||")(
                {MessageStatus.FAILED.value: uow.now.isoformat()}
            ),
        )
    )


async def requeue(uow: UnitOfWork, message_id: uuid.UUID, *, at: datetime, reason: str) -> None:
    """Back to the outbox for another try (the request was not accepted)."""
    assert uow.tenant_id is not None
    await uow.session.execute(
        update(Message)
        .where(Message.tenant_id == uow.tenant_id)
        .where(Message.id == message_id)
        .where(Message.status == MessageStatus.SENDING)
        .values(status=MessageStatus.QUEUED, next_attempt_at=at, error_message=reason)
    )


def match_in_twilio_list(
    message: Message, listed: list[dict[str, Any]], known_sids: set[str]
) -> dict[str, Any] | None:
    """The Twilio message that is this send, if Twilio has it: same recipient and content,
    created after we started sending, and not already linked to another of our rows."""
    assert message.send_started_at is not None
    started = message.send_started_at - timedelta(seconds=60)
    candidates = []
    for item in listed:
        if item.get("sid") in known_sids:
            continue
        created = _parse_twilio_date(item.get("date_created"))
        if created is not None and created < started:
            continue
        # A template is listed by its rendered body, so for templates recipient and time decide.
        if message.content_sid or (item.get("body") or "") == message.body:
            candidates.append((created or started, item))
    candidates.sort(key=lambda pair: pair[0])
    return candidates[0][1] if candidates else None


def _parse_twilio_date(value: object) -> datetime | None:
    """Twilio's RFC 2822 dates, e.g. 'Thu, 30 Jul 2015 20:12:31 +0000'."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
