"""Who hears about an event, and what their devices show.

One event becomes a `Notice` (what happened, to whom it matters, what a lock screen may
show); `deliver` applies each person's choices to it: the kind and channel they want, their
quiet hours (push only), and whether they have the conversation open right now (then no
push: it is on their screen). Each push goes to each of the person's devices as a job of
its own, so a slow or dead push service delays nobody else.

Everything runs in one tenant's unit of work: the members, preferences and devices read here
are that business's only (forced RLS), so no notification or payload crosses the wall.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import Select, bindparam, exists, select

from clientcompass.conversations.queries import find_conversation_contact
from clientcompass.db import UnitOfWork
from clientcompass.documents.service import Kind as DocumentKind
from clientcompass.documents.views_common import SLUGS
from clientcompass.errors import NotFound
from clientcompass.inbox.display import zone
from clientcompass.models import (
    BusinessProfile,
    Contact,
    Conversation,
    Document,
    Message,
    NotificationPreference,
    PushSubscription,
    User,
)
from clientcompass.names import display_name
from clientcompass.notifications import outbox, preferences
from clientcompass.notifications.email import short
from clientcompass.notifications.kinds import Channel, Kind
from clientcompass.notifications.outbox import Push, Urgency
from clientcompass.notifications.preferences import Preferences
from clientcompass.realtime import presence
from clientcompass.realtime.bus import Event

HIDDEN_BODY = "Open Client Compass to read it."


@dataclass(frozen=True)
class Notice:
    kind: Kind
    title: str
    body: str
    url: str
    tag: str
    urgency: Urgency = Urgency.NORMAL
    # None: everyone on the team; else only these people.
    recipients: frozenset[uuid.UUID] | None = None
    # Who caused it (told nothing about their own action).
    actor_id: uuid.UUID | None = None
    # The conversation it is about: nobody who has it open is pushed.
    conversation_id: uuid.UUID | None = None
    # A brand-new customer conversation: the new-lead email follows in 2 minutes.
    new_lead: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def push_for(self, choices: Preferences) -> Push:
        """What this person's lock screen shows: without the message text if they asked."""
        body = HIDDEN_BODY if choices.hide_content and self.conversation_id else self.body
        return Push(title=self.title, body=body, url=self.url, tag=self.tag, urgency=self.urgency)


@dataclass
class Delivery:
    """What `deliver` queued, for metrics and tests."""

    pushes: int = 0
    people: set[uuid.UUID] = field(default_factory=set)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


async def _conversation_and_contact(
    uow: UnitOfWork, conversation_id: uuid.UUID | None
) -> tuple[Conversation, Contact] | None:
    """The conversation an event is about, or None when it is gone (or not this tenant's)."""
    if conversation_id is None:
        return None
    try:
        return await find_conversation_contact(uow, conversation_id)
    except NotFound:
        return None


def _name(contact: Contact) -> str:
    return display_name(contact.name, contact.profile_name, contact.phone_e164)


async def notice_for_inbound(uow: UnitOfWork, message_id: uuid.UUID) -> Notice | None:
    """A customer wrote (the durable event's path; the inbound pipeline has the rows already
    and calls `message_notice`)."""
    message = await uow.session.get(Message, (uow.tenant_id, message_id))
    if message is None:
        return None
    before = (
        exists()
        .where(Message.tenant_id == uow.tenant_id)
        .where(Message.conversation_id == message.conversation_id)
        .where(Message.created_at < message.created_at)
    )
    # One round trip for the conversation, its customer and whether this is their first word.
    row = (
        await uow.session.execute(
            select(Conversation, Contact, before.label("earlier"))
            .join(
                Contact,
                (Contact.tenant_id == Conversation.tenant_id)
                & (Contact.id == Conversation.contact_id),
            )
            .where(Conversation.tenant_id == uow.tenant_id)
            .where(Conversation.id == message.conversation_id)
        )
    ).first()
    if row is None:
        return None
    conversation, contact, earlier = row
    return message_notice(message, conversation, contact, first=not earlier)


def message_notice(
    message: Message, conversation: Conversation, contact: Contact, *, first: bool
) -> Notice:
    """The first message of a conversation (a new customer or lead), or one in a conversation
    nobody is assigned to, is the whole team's; otherwise the assignee's."""
    if message.body.strip():
        body = short(message.body)
    elif message.media:
        body = "Sent a photo or file."
    else:
        body = "Sent a message."
    everyone = first or conversation.assignee_id is None
    return Notice(
        kind=Kind.NEW_CONVERSATION if everyone else Kind.ASSIGNED_MESSAGE,
        title=f"New message from {_name(contact)}",
        body=body,
        url=f"/inbox/{conversation.id}",
        tag=f"conversation-{conversation.id}",
        urgency=Urgency.HIGH,
        recipients=None if everyone else frozenset({conversation.assignee_id}),  # type: ignore[arg-type]
        conversation_id=conversation.id,
        new_lead=first,
    )


async def _assigned(uow: UnitOfWork, data: Mapping[str, Any]) -> Notice | None:
    assignee = _uuid(data.get("assignee_id"))
    found = await _conversation_and_contact(uow, _uuid(data.get("conversation_id")))
    if assignee is None or found is None:
        return None
    conversation, contact = found
    return Notice(
        kind=Kind.ASSIGNED,
        title=f"{_name(contact)} is assigned to you",
        body=short(conversation.last_message_preview or ""),
        url=f"/inbox/{conversation.id}",
        tag=f"conversation-{conversation.id}",
        recipients=frozenset({assignee}),
        actor_id=_uuid(data.get("actor_id")),
        conversation_id=conversation.id,
    )


async def _handoff(uow: UnitOfWork, data: Mapping[str, Any]) -> Notice | None:
    found = await _conversation_and_contact(uow, _uuid(data.get("conversation_id")))
    if found is None:
        return None
    conversation, contact = found
    return Notice(
        kind=Kind.HANDOFF,
        title=f"{_name(contact)} needs a person",
        body=short(str(data.get("reason") or conversation.last_message_preview or "")),
        url=f"/inbox/{conversation.id}",
        tag=f"conversation-{conversation.id}",
        urgency=Urgency.HIGH,
        recipients=(frozenset({conversation.assignee_id}) if conversation.assignee_id else None),
        conversation_id=conversation.id,
    )


async def _document(uow: UnitOfWork, event: Event, data: Mapping[str, Any]) -> Notice | None:
    document_id = _uuid(data.get("document_id"))
    if document_id is None:
        return None
    document = await uow.session.get(Document, (uow.tenant_id, document_id))
    if document is None:
        return None
    contact = await uow.session.get(Contact, (uow.tenant_id, document.contact_id))
    customer = _name(contact) if contact is not None else "The customer"
    kind = DocumentKind(document.kind)
    url = f"/{SLUGS[kind]}/{document.id}"
    if event is Event.DOCUMENT_PAID:
        return Notice(
            kind=Kind.INVOICE_PAID,
            title=f"Invoice {document.number} is paid",
            body=f"{customer} has paid in full.",
            url=url,
            tag=f"document-{document.id}",
            actor_id=_uuid(data.get("actor_id")),
        )
    done = "accepted" if event is Event.DOCUMENT_ACCEPTED else "declined"
    return Notice(
        kind=Kind.QUOTE_ANSWER,
        title=f"Quote {document.number} {done}",
        body=f"{customer} {done} the quote.",
        url=url,
        tag=f"document-{document.id}",
        urgency=Urgency.HIGH if event is Event.DOCUMENT_ACCEPTED else Urgency.NORMAL,
        actor_id=_uuid(data.get("actor_id")),
    )


async def notice_for(uow: UnitOfWork, event: Event, data: Mapping[str, Any]) -> Notice | None:
    """The notice an event makes, or None (nothing to tell, or its subject is gone)."""
    if event is Event.MESSAGE_CREATED:
        message_id = _uuid(data.get("message_id"))
        if data.get("direction") != "inbound" or message_id is None:
            return None
        return await notice_for_inbound(uow, message_id)
    if event is Event.CONVERSATION_ASSIGNED:
        return await _assigned(uow, data)
    if event is Event.CONVERSATION_HANDOFF:
        return await _handoff(uow, data)
    if event in (Event.DOCUMENT_ACCEPTED, Event.DOCUMENT_DECLINED, Event.DOCUMENT_PAID):
        return await _document(uow, event, data)
    return None


@dataclass
class Team:
    """Who could hear of a notice, read in one query (a fan-out runs for every customer's
    message): the active members with their choices and devices, and the business's zone."""

    choices: dict[uuid.UUID, Preferences]
    devices: dict[uuid.UUID, list[uuid.UUID]]
    zone: str


def _team_query() -> Select[tuple[Any, ...]]:
    """The active members, their choices and device ids, and the business's zone: one row
    per device (or per member without one). Columns, not ORM objects: a person's choices
    repeat on each of their devices' rows. Built once: it runs for every customer's message."""
    zone_name = (
        select(BusinessProfile.timezone)
        .where(BusinessProfile.tenant_id == bindparam("tenant_id"))
        .scalar_subquery()
    )
    return (
        select(
            User.id,
            NotificationPreference.user_id,
            NotificationPreference.channels,
            NotificationPreference.quiet_start,
            NotificationPreference.quiet_end,
            NotificationPreference.hide_content,
            PushSubscription.id,
            zone_name,
        )
        .select_from(User)
        .outerjoin(
            NotificationPreference,
            (NotificationPreference.tenant_id == User.tenant_id)
            & (NotificationPreference.user_id == User.id),
        )
        .outerjoin(
            PushSubscription,
            (PushSubscription.tenant_id == User.tenant_id) & (PushSubscription.user_id == User.id),
        )
        .where(User.tenant_id == bindparam("tenant_id"))
        .where(User.is_active.is_(True))
        .where(User.removed_at.is_(None))
        .order_by(User.created_at, User.id, PushSubscription.id)
    )


TEAM = _team_query()


async def _team(uow: UnitOfWork) -> Team:
    rows = (await uow.session.execute(TEAM, {"tenant_id": uow.tenant_id})).all()
    team = Team(choices={}, devices={}, zone="")
    for user_id, chose, channels, quiet_start, quiet_end, hide, device_id, zone_value in rows:
        if user_id not in team.choices:
            team.choices[user_id] = (
                preferences.from_columns(channels, quiet_start, quiet_end, hide)
                if chose is not None
                else Preferences()
            )
        devices = team.devices.setdefault(user_id, [])
        if device_id is not None:
            devices.append(device_id)
        team.zone = zone_value or ""
    return team


# What follows a notice by email (notifications/tasks.py), given who chose email for it.
EmailHook = Callable[[UnitOfWork, Notice, list[uuid.UUID]], Awaitable[None]]


async def deliver(
    uow: UnitOfWork, redis: Redis, notice: Notice, *, email: EmailHook | None = None
) -> Delivery:
    """Queue the pushes (and emails) `notice` calls for, by everyone's own choices."""
    done = Delivery()
    team = await _team(uow)
    audience = [
        m
        for m in team.choices
        if (notice.recipients is None or m in notice.recipients) and m != notice.actor_id
    ]
    if not audience:
        return done
    watching = (
        await presence.viewers(redis, uow.tenant_id, notice.conversation_id)  # type: ignore[arg-type]
        if notice.conversation_id is not None
        else set()
    )
    tz = zone(team.zone)
    pushed: list[uuid.UUID] = []
    emailed: list[uuid.UUID] = []
    for person in audience:
        mine = team.choices[person]
        if mine.wants(notice.kind, Channel.EMAIL):
            emailed.append(person)
        if not mine.wants(notice.kind, Channel.PUSH):
            done.skip("preference")
        elif person in watching:
            done.skip("watching")
        elif mine.is_quiet(uow.now, tz):
            done.skip("quiet_hours")
        else:
            pushed.append(person)
    # One job per payload: the lock screens that hide message text get their own.
    by_payload: dict[Push, list[uuid.UUID]] = {}
    for person in pushed:
        for device_id in team.devices[person]:
            by_payload.setdefault(notice.push_for(team.choices[person]), []).append(device_id)
            done.people.add(person)
    for push, devices in by_payload.items():
        outbox.queue_push(uow, devices, push)
        done.pushes += len(devices)
    if email is not None and (emailed or notice.new_lead):
        await email(uow, notice, emailed)
    return done
