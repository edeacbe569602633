"""Inbox actions on a conversation: read, assign, labels, the snooze alarm (status and
notes are the conversation's own: conversations/service.py).

Every action leaves a trace in the thread (a `ConversationEvent`) and announces itself on
the tenant's real-time stream once its transaction commits, so every open tab of every
teammate sees it. Services flush; the caller's unit of work commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from clientcompass.accounts import service as accounts
from clientcompass.auth.principal import Principal
from clientcompass.conversations.service import get_for_update, record_event, set_status
from clientcompass.db import UnitOfWork
from clientcompass.errors import DomainError, InvalidInput, NotFound
from clientcompass.models import (
    Conversation,
    ConversationEvent,
    ConversationLabel,
    ConversationStatus,
    EventKind,
)
from clientcompass.realtime.bus import Event

MAX_LABEL = 40


async def mark_read(uow: UnitOfWork, conversation_id: uuid.UUID) -> None:
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
        uow.announce(Event.CONVERSATION_READ, conversation_id=str(conversation_id))


async def assign(
    uow: UnitOfWork,
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
    record_event(uow, conversation.id, kind, actor, data=data)
    await uow.session.flush()
    uow.announce(
        Event.CONVERSATION_ASSIGNED,
        conversation_id=str(conversation.id),
        actor_id=str(actor.user_id),
        **data,
    )
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
    uow: UnitOfWork, actor: Principal, conversation_id: uuid.UUID, label: str
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
        record_event(uow, conversation.id, EventKind.LABELED, actor, data={"label": cleaned})
        await uow.session.flush()
        uow.announce(
            Event.CONVERSATION_LABELS,
            conversation_id=str(conversation.id),
            label=cleaned,
            added=True,
        )
    return await labels_of(uow, conversation.id)


async def remove_label(
    uow: UnitOfWork, actor: Principal, conversation_id: uuid.UUID, label: str
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
        record_event(uow, conversation.id, EventKind.UNLABELED, actor, data={"label": cleaned})
        await uow.session.flush()
        uow.announce(
            Event.CONVERSATION_LABELS,
            conversation_id=str(conversation.id),
            label=cleaned,
            added=False,
        )
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


async def wake(uow: UnitOfWork, conversation_id: uuid.UUID) -> bool:
    """The snooze alarm: reopen a conversation whose snooze has run out (False if it was
    woken already, by the customer or a teammate)."""
    try:
        conversation = await get_for_update(uow, conversation_id)
    except NotFound:
        return False
    due = conversation.snoozed_until is not None and conversation.snoozed_until <= uow.now
    if conversation.status is not ConversationStatus.SNOOZED or not due:
        return False
    await set_status(uow, None, conversation_id, ConversationStatus.OPEN, reason="snooze")
    return True
