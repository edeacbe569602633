"""What the inbox pages show, built from the same services and queries as the JSON API:
rows for the list, a thread that interleaves messages with notes and system events, and
the composer (free text inside the 24-hour window, approved templates outside it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.conversations.schemas import ConversationOut, MediaOut, MessageOut
from clientcompass.conversations.service import SYSTEM_NAME
from clientcompass.db import UnitOfWork
from clientcompass.errors import DomainError, NotFound
from clientcompass.inbox import canned, listing, service, threads
from clientcompass.inbox.display import (
    Tick,
    contact_label,
    tick_for,
    time_label,
    window_label,
    zone,
)
from clientcompass.models import CannedResponse, ConversationEvent, EventKind, MessageTemplate
from clientcompass.team import service as team
from clientcompass.whatsapp import templates
from clientcompass.whatsapp.template_rules import scan

COUNTDOWN_FROM = timedelta(hours=2)


@dataclass(frozen=True)
class ConversationRow:
    conversation: ConversationOut
    name: str
    when: str
    window: str
    selected: bool


@dataclass(frozen=True)
class ListPage:
    rows: list[ConversationRow]
    next_cursor: str | None
    unread_total: int
    filters: listing.Filters


@dataclass(frozen=True)
class Bubble:
    message: MessageOut
    outbound: bool
    tick: Tick
    when: str
    button: str
    images: list[MediaOut]
    audio: list[MediaOut]
    files: list[MediaOut]
    location: dict[str, str]
    quoted: str
    at: datetime
    kind: str = "message"


@dataclass(frozen=True)
class Happening:
    """A note or system event between the messages."""

    kind: str
    text: str
    body: str
    when: str
    at: datetime


@dataclass(frozen=True)
class TemplateChoice:
    template: MessageTemplate
    numbers: list[int]


@dataclass
class Thread:
    conversation: ConversationOut
    name: str
    window: str
    items: list[Bubble | Happening]
    earlier: str = ""
    members: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    templates: list[TemplateChoice] = field(default_factory=list)
    canned: list[CannedResponse] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    snooze_options: list[tuple[str, str]] = field(default_factory=list)
    countdown: bool = False


async def business_zone(uow: UnitOfWork, principal: Principal) -> ZoneInfo:
    try:
        profile = await business.get_profile(uow, principal)
    except DomainError:
        return zone("")
    return zone(profile.timezone)


async def list_page(
    uow: UnitOfWork,
    principal: Principal,
    filters: listing.Filters,
    *,
    after: str = "",
    selected: uuid.UUID | None = None,
) -> ListPage:
    cursor = listing.Cursor.decode(after) if after else None
    page = await listing.list_page(uow, principal, filters, after=cursor)
    tz = await business_zone(uow, principal)
    rows = [
        ConversationRow(
            conversation=c,
            name=contact_label(c.contact),
            when=time_label(c.last_message_at, tz, uow.now),
            window=window_label(c.window),
            selected=c.id == selected,
        )
        for c in page.conversations
    ]
    return ListPage(rows, page.next_cursor, page.unread_total, filters)


def _bubble(message: MessageOut, tz: ZoneInfo, now: datetime) -> Bubble:
    button = message.details.get("button")
    location = message.details.get("location")
    reply_to = message.details.get("reply_to")
    stored = [m for m in message.media if m.id is not None and m.state == "stored"]
    images = [m for m in stored if m.content_type.startswith("image/")]
    audio = [m for m in stored if m.content_type.startswith("audio/")]
    return Bubble(
        message=message,
        outbound=message.direction == "outbound",
        tick=tick_for(message.status),
        when=time_label(message.created_at, tz, now),
        button=str(button.get("text") or button.get("payload") or "")
        if isinstance(button, dict)
        else "",
        images=images,
        audio=audio,
        files=[m for m in message.media if m not in images and m not in audio],
        location={k: str(v) for k, v in location.items()} if isinstance(location, dict) else {},
        quoted="Reply to an earlier message" if isinstance(reply_to, dict) else "",
        at=message.created_at,
    )


def first_name(name: str) -> str:
    """How teammates call each other in a thread line: "Sipho", not "Sipho Mokoena"."""
    return name.split()[0] if name.split() else ""


@dataclass(frozen=True)
class _Actor:
    """Who did it, as the person reading the thread says it."""

    subject: str  # at the start of a sentence: "You", "Sipho", "Client Compass"
    is_viewer: bool
    is_system: bool


def _actor(event: ConversationEvent, data: dict[str, Any], viewer_id: uuid.UUID | None) -> _Actor:
    by = str(data.get("by") or "")
    if viewer_id is not None and event.author_id == viewer_id:
        return _Actor("You", True, False)
    if data.get("system") or (event.author_id is None and by in ("", SYSTEM_NAME)):
        return _Actor(SYSTEM_NAME, False, True)
    return _Actor(first_name(by) or "A teammate", False, False)


def _assignee(
    data: dict[str, Any], actor: _Actor, author_id: uuid.UUID | None, viewer_id: uuid.UUID | None
) -> str:
    assignee_id = str(data.get("assignee_id") or "")
    if assignee_id and author_id is not None and assignee_id == str(author_id):
        return "yourself" if actor.is_viewer else "themselves"
    if assignee_id and viewer_id is not None and assignee_id == str(viewer_id):
        return "you"
    # The full name here: "assigned this to Sipho" is ambiguous on a team with two Siphos.
    return str(data.get("assignee_name") or "a teammate")


def _happening(
    event: ConversationEvent, viewer_id: uuid.UUID | None, tz: ZoneInfo, now: datetime
) -> Happening:
    """One thread line, worded for the person reading it ("You …", "Sipho …")."""
    data: dict[str, Any] = event.data or {}
    actor = _actor(event, data, viewer_id)
    who = actor.subject
    kind = EventKind(event.kind)
    if kind is EventKind.NOTE:
        text = "Your private note" if actor.is_viewer else f"Private note by {who}"
    elif kind is EventKind.ASSIGNED:
        text = f"{who} assigned this to {_assignee(data, actor, event.author_id, viewer_id)}"
    elif kind is EventKind.UNASSIGNED:
        text = f"{who} unassigned this"
    elif kind is EventKind.REOPENED:
        if not actor.is_system:
            text = f"{who} reopened this"
        elif data.get("reason") == "message":
            text = "Reopened: the customer wrote again"
        else:
            text = "Reopened: the snooze ended"
    elif kind is EventKind.STATUS and data.get("status") == "snoozed":
        until = datetime.fromisoformat(str(data["until"])) if data.get("until") else None
        text = f"{who} snoozed this until {time_label(until, tz, now) or 'later'}"
    elif kind is EventKind.STATUS:
        text = f"{who} marked this {data.get('status', '')}"
    elif kind is EventKind.LABELED:
        text = f"{who} added the label {data.get('label', '')}"
    else:
        text = f"{who} removed the label {data.get('label', '')}"
    return Happening(
        kind=kind.value,
        text=text,
        body=event.body,
        when=time_label(event.created_at, tz, now),
        at=event.created_at,
    )


def snooze_options(tz: ZoneInfo, now: datetime) -> list[tuple[str, str]]:
    """Preset wake-up times as absolute instants (the business's clock decides 'tomorrow')."""
    local = now.astimezone(tz)
    tomorrow = (local + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    monday = (local + timedelta(days=7 - local.weekday())).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    return [
        ((now + timedelta(hours=1)).isoformat(), "For 1 hour"),
        ((now + timedelta(hours=3)).isoformat(), "For 3 hours"),
        (tomorrow.isoformat(), "Until tomorrow 08:00"),
        (monday.isoformat(), "Until Monday 08:00"),
    ]


def _items(
    messages: list[MessageOut],
    happenings: list[ConversationEvent],
    viewer: Principal,
    tz: ZoneInfo,
    now: datetime,
) -> list[Bubble | Happening]:
    items: list[Bubble | Happening] = [_bubble(m, tz, now) for m in messages]
    items += [_happening(e, viewer.user_id, tz, now) for e in happenings]
    items.sort(key=lambda item: item.at)
    return items


@dataclass(frozen=True)
class Earlier:
    items: list[Bubble | Happening]
    earlier: str
    conversation_id: uuid.UUID


async def earlier(
    uow: UnitOfWork, principal: Principal, conversation_id: uuid.UUID, before: str
) -> Earlier:
    """The page of the thread before `before` (a cursor from the page after it)."""
    if await listing.get_one(uow, principal, conversation_id) is None:
        raise NotFound("That conversation does not exist.")
    cursor = listing.Cursor.decode(before)
    page = await threads.latest(uow, conversation_id, before=cursor)
    since = page.messages[0].created_at if page.earlier is not None else None
    happenings = await service.list_events(uow, conversation_id, since=since, until=cursor.at)
    tz = await business_zone(uow, principal)
    return Earlier(
        _items(page.messages, happenings, principal, tz, uow.now),
        page.earlier.encode() if page.earlier else "",
        conversation_id,
    )


async def thread(
    uow: UnitOfWork, principal: Principal, conversation_id: uuid.UUID, *, full: bool = True
) -> Thread:
    """The conversation and its latest messages with notes and events between them.

    `full` adds what only the whole page needs (team, templates, canned responses).
    Opening a thread marks it read, which the caller's unit of work commits.
    """
    conversation = await listing.get_one(uow, principal, conversation_id)
    if conversation is None:
        raise NotFound("That conversation does not exist.")
    page = await threads.latest(uow, conversation_id)
    since = page.messages[0].created_at if page.earlier is not None else None
    happenings = await service.list_events(uow, conversation_id, since=since)
    tz = await business_zone(uow, principal)
    items = _items(page.messages, happenings, principal, tz, uow.now)
    window = conversation.window
    if not window.is_open and window.closes_at is not None:
        closed = window.closes_at
        items.append(
            Happening(
                "window", "24-hour window closed", "", time_label(closed, tz, uow.now), closed
            )
        )
        items.sort(key=lambda item: item.at)
    result = Thread(
        conversation=conversation,
        name=contact_label(conversation.contact),
        window=window_label(window),
        items=items,
        earlier=page.earlier.encode() if page.earlier else "",
        countdown=window.is_open and window.seconds_left < COUNTDOWN_FROM.total_seconds(),
    )
    if full:
        result.members = [
            (user.id, user.name)
            for user in await team.list_members(uow, principal)
            if user.is_active
        ]
        if not window.is_open:
            result.templates = [
                TemplateChoice(t, scan(t.body).numbers)
                for t in await templates.list_approved(uow, conversation.channel_id)
                if templates.filled_by_a_person(t)
            ]
        result.canned = await canned.list_canned(uow)
        result.labels = await service.tenant_labels(uow)
        result.snooze_options = snooze_options(tz, uow.now)
    return result
