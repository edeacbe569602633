"""Conversation actions: read, assign, status and snooze, labels, notes.

Every action leaves a trace in the thread (a `ConversationEvent`) and announces itself on
the tenant's real-time stream once its transaction commits, so every open tab of every
teammate sees it. Services flush; the caller's unit of work commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from clientcompass.accounts import service as accounts
from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import DomainError, InvalidInput, NotFound
from clientcompass.models import (
    Conversation,
    ConversationEvent,
    ConversationLabel,
    ConversationStatus,
    EventKind,
    Message,
)
from clientcompass.whatsapp import events, outbound

MAX_LABEL = 40
MAX_NOTE = 4096
MAX_SNOOZE = timedelta(days=365)


def announce(
    uow: UnitOfWork, redis: Redis, event_type: str, conversation_id: uuid.UUID, **data: Any
) -> None:
    """Publish on the tenant's stream after commit (a rollback announces nothing)."""
    tenant_id = uow.tenant_id
    assert tenant_id is not None

    async def publish() -> None:
        await events.publish(
            redis, tenant_id, event_type, conversation_id=str(conversation_id), **data
        )

    uow.on_commit(publish)


async def get_for_update(uow: UnitOfWork, conversation_id: uuid.UUID) -> Conversation:
    """The conversation, locked for this transaction; another tenant's id is simply not found."""
    assert uow.tenant_id is not None
    conversation = await uow.session.scalar(
        select(Conversation)
        .where(Conversation.tenant_id == uow.tenant_id)
        .where(Conversation.id == conversation_id)
        .with_for_update()
    )
    if conversation is None:
        raise NotFound("That conversation does not exist.")
    return conversation


def _event(
    uow: UnitOfWork,
    conversation_id: uuid.UUID,
    kind: EventKind,
    author_id: uuid.UUID | None,
    *,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> ConversationEvent:
    assert uow.tenant_id is not None
    event = ConversationEvent(
        tenant_id=uow.tenant_id,
        id=uuid.uuid4(),
        conversation_id=conversation_id,
        kind=kind.value,
        body=body,
        author_id=author_id,
        data=data or {},
        created_at=uow.now,
    )
    uow.session.add(event)
    return event


async def mark_read(uow: UnitOfWork, redis: Redis, conversation_id: uuid.UUID) -> None:
    """A member opened the conversation: nothing in it is unread any more.

    Only touches the row (and tells the other tabs) when something was unread, so a thread
    refreshed on every live event does not write or announce each time.
    """
    assert uow.tenant_id is not None
    changed = await uow.session.scalar(
        update(Conversation)
        .where(Conversation.tenant_id == uow.tenant_id)
        .where(Conversation.id == conversation_id)
        .where(Conversation.unread_count > 0)
        .values(unread_count=0)
        .returning(Conversation.id)
    )
    if changed is not None:
        announce(uow, redis, "conversation.read", conversation_id)


async def assign(
    uow: UnitOfWork,
    redis: Redis,
    actor: Principal,
    conversation_id: uuid.UUID,
    assignee_id: uuid.UUID | None,
) -> Conversation:
    """Give the conversation to a teammate (or to nobody); assigning the same person is a no-op."""
    conversation = await get_for_update(uow, conversation_id)
    name = ""
    if assignee_id is not None:
        try:
            user = await accounts.get_user(uow, assignee_id)
        except DomainError:
            user = None
        if user is None or not user.is_active:
            raise InvalidInput("Choose someone on your team.", field="assignee_id")
        name = user.name
    if conversation.assignee_id == assignee_id:
        return conversation
    conversation.assignee_id = assignee_id
    kind = EventKind.ASSIGNED if assignee_id else EventKind.UNASSIGNED
    data = {"assignee_id": str(assignee_id) if assignee_id else None, "assignee_name": name}
    _event(uow, conversation.id, kind, actor.user_id, data={**data, "by": actor.name})
    await uow.session.flush()
    announce(uow, redis, "conversation.assigned", conversation.id, **data)
    return conversation


async def set_status(
    uow: UnitOfWork,
    redis: Redis,
    actor: Principal | None,
    conversation_id: uuid.UUID,
    status: ConversationStatus,
    *,
    snooze_until: datetime | None = None,
) -> Conversation:
    """Open, pending, resolved, or snoozed until a time (the snooze alarm reopens it then,
    and so does the customer's next message). `actor` None is the alarm itself."""
    conversation = await get_for_update(uow, conversation_id)
    if status is ConversationStatus.SNOOZED:
        if snooze_until is None or snooze_until.tzinfo is None:
            raise InvalidInput("Choose when the conversation should wake up.", field="until")
        if snooze_until <= uow.now:
            raise InvalidInput("Choose a time in the future to snooze until.", field="until")
        if snooze_until > uow.now + MAX_SNOOZE:
            raise InvalidInput("Snooze for at most a year.", field="until")
    else:
        snooze_until = None
    if conversation.status is status and conversation.snoozed_until == snooze_until:
        return conversation
    was = conversation.status
    conversation.status = status
    conversation.snoozed_until = snooze_until
    reopened = status is ConversationStatus.OPEN and was in (
        ConversationStatus.RESOLVED,
        ConversationStatus.SNOOZED,
    )
    data: dict[str, Any] = {
        "status": status.value,
        "until": snooze_until.isoformat() if snooze_until else None,
        "by": actor.name if actor else "",
    }
    _event(
        uow,
        conversation.id,
        EventKind.REOPENED if reopened else EventKind.STATUS,
        actor.user_id if actor else None,
        data=data,
    )
    await uow.session.flush()
    announce(uow, redis, "conversation.status", conversation.id, status=status.value)
    return conversation


def clean_label(label: str) -> str:
    """Labels compare case-insensitively and read the same everywhere: trimmed, lower case."""
    cleaned = " ".join(label.split()).lower()
    if not cleaned:
        raise InvalidInput("Type a label.", field="label")
    if len(cleaned) > MAX_LABEL:
        raise InvalidInput(f"A label holds at most {MAX_LABEL} characters.", field="label")
    return cleaned


async def add_label(
    uow: UnitOfWork, redis: Redis, actor: Principal, conversation_id: uuid.UUID, label: str
) -> list[str]:
    """Label the conversation (idempotent); returns its labels."""
    cleaned = clean_label(label)
    conversation = await get_for_update(uow, conversation_id)
    added = await uow.session.scalar(
        insert(ConversationLabel)
        .values(tenant_id=conversation.tenant_id, conversation_id=conversation.id, label=cleaned)
        .on_conflict_do_nothing()
        .returning(ConversationLabel.label)
    )
    if added is not None:
        _event(uow, conversation.id, EventKind.LABELED, actor.user_id, data={"label": cleaned})
        await uow.session.flush()
        announce(uow, redis, "conversation.labels", conversation.id, label=cleaned, added=True)
    return await labels_of(uow, conversation.id)


async def remove_label(
    uow: UnitOfWork, redis: Redis, actor: Principal, conversation_id: uuid.UUID, label: str
) -> list[str]:
    """Take a label off (idempotent); returns the labels left."""
    cleaned = clean_label(label)
    conversation = await get_for_update(uow, conversation_id)
    removed = await uow.session.scalar(
        delete(ConversationLabel)
        .where(ConversationLabel.tenant_id == conversation.tenant_id)
        .where(ConversationLabel.conversation_id == conversation.id)
        .where(ConversationLabel.label == cleaned)
        .returning(ConversationLabel.label)
    )
    if removed is not None:
        _event(uow, conversation.id, EventKind.UNLABELED, actor.user_id, data={"label": cleaned})
        await uow.session.flush()
        announce(uow, redis, "conversation.labels", conversation.id, label=cleaned, added=False)
    return await labels_of(uow, conversation.id)


async def labels_of(uow: UnitOfWork, conversation_id: uuid.UUID) -> list[str]:
    assert uow.tenant_id is not None
    rows = await uow.session.scalars(
        select(ConversationLabel.label)
        .where(ConversationLabel.tenant_id == uow.tenant_id)
        .where(ConversationLabel.conversation_id == conversation_id)
        .order_by(ConversationLabel.label)
    )
    return list(rows)


async def tenant_labels(uow: UnitOfWork) -> list[str]:
    """Every label in use in this business, for the filter and the picker."""
    assert uow.tenant_id is not None
    rows = await uow.session.scalars(
        select(ConversationLabel.label)
        .where(ConversationLabel.tenant_id == uow.tenant_id)
        .distinct()
        .order_by(ConversationLabel.label)
    )
    return list(rows)


async def add_note(
    uow: UnitOfWork, redis: Redis, actor: Principal, conversation_id: uuid.UUID, body: str
) -> ConversationEvent:
    """A private note for the team: shown in the thread, never sent to the customer."""
    text = body.strip()
    if not text:
        raise InvalidInput("Type a note.", field="body")
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"A note holds at most {MAX_NOTE} characters.", field="body")
    conversation = await get_for_update(uow, conversation_id)
    note = _event(
        uow, conversation.id, EventKind.NOTE, actor.user_id, body=text, data={"by": actor.name}
    )
    await uow.session.flush()
    announce(uow, redis, "conversation.note", conversation.id, event_id=str(note.id))
    return note


async def list_events(
    uow: UnitOfWork,
    conversation_id: uuid.UUID,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[ConversationEvent]:
    """Notes and system events, oldest first, from `since` and before `until` (the span of
    the messages a thread page shows)."""
    assert uow.tenant_id is not None
    query = (
        select(ConversationEvent)
        .where(ConversationEvent.tenant_id == uow.tenant_id)
        .where(ConversationEvent.conversation_id == conversation_id)
        .order_by(ConversationEvent.created_at, ConversationEvent.id)
    )
    if since is not None:
        query = query.where(ConversationEvent.created_at >= since)
    if until is not None:
        query = query.where(ConversationEvent.created_at < until)
    return list(await uow.session.scalars(query))


async def wake(uow: UnitOfWork, redis: Redis, conversation_id: uuid.UUID) -> bool:
    """The snooze alarm: reopen a conversation whose snooze has run out (False if it was
    woken already, by the customer or a teammate)."""
    try:
        conversation = await get_for_update(uow, conversation_id)
    except NotFound:
        return False
    due = conversation.snoozed_until is not None and conversation.snoozed_until <= uow.now
    if conversation.status is not ConversationStatus.SNOOZED or not due:
        return False
    await set_status(uow, redis, None, conversation_id, ConversationStatus.OPEN)
    return True


async def send(
    uow: UnitOfWork,
    redis: Redis,
    actor: Principal,
    conversation_id: uuid.UUID,
    outgoing: outbound.Outgoing,
) -> Message:
    """Queue a reply through WhatsApp's outbox and show it to the team at once (the worker's
    status events follow as it is sent)."""
    message = await outbound.enqueue(uow, actor, conversation_id, outgoing)
    announce(
        uow,
        redis,
        "message.created",
        conversation_id,
        message_id=str(message.id),
        direction="outbound",
    )
    return message
