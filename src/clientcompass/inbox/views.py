"""The business's side of WhatsApp: the list of conversations and one conversation's thread.

Kept small on purpose (the full shared inbox with assignment and real-time updates is a
later issue): pages poll with htmx, replies go through the same outbox as the JSON API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.business import service as business
from clientcompass.db import UnitOfWork
from clientcompass.errors import DomainError
from clientcompass.inbox import service as inbox
from clientcompass.inbox.display import (
    Tick,
    contact_label,
    tick_for,
    time_label,
    window_label,
    zone,
)
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.render import form_dict, redirect, render
from clientcompass.whatsapp import outbound, queries
from clientcompass.whatsapp.schemas import ConversationOut, MediaOut, MessageOut

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ConversationRow:
    conversation: ConversationOut
    name: str
    when: str
    window: str


@dataclass(frozen=True)
class Bubble:
    message: MessageOut
    outbound: bool
    tick: Tick
    when: str
    button: str
    images: list[MediaOut]
    files: list[MediaOut]


@dataclass(frozen=True)
class Thread:
    conversation: ConversationOut
    name: str
    window: str
    bubbles: list[Bubble]


def _bubble(message: MessageOut, tz: ZoneInfo, now: datetime) -> Bubble:
    button = message.details.get("button")
    stored = [m for m in message.media if m.id is not None and m.state == "stored"]
    images = [m for m in stored if m.content_type.startswith("image/")]
    return Bubble(
        message=message,
        outbound=message.direction == "outbound",
        tick=tick_for(message.status),
        when=time_label(message.created_at, tz, now),
        button=str(button.get("text") or button.get("payload") or "")
        if isinstance(button, dict)
        else "",
        images=images,
        files=[m for m in message.media if m not in images],
    )


async def _zone(uow: UnitOfWork, principal: CurrentPrincipal) -> ZoneInfo:
    try:
        profile = await business.get_profile(uow, principal)
    except DomainError:
        return zone("")
    return zone(profile.timezone)


async def _thread(
    uow: UnitOfWork, principal: CurrentPrincipal, conversation_id: uuid.UUID
) -> Thread:
    """The conversation and its messages; opening it marks it read."""
    conversation = await queries.get_conversation(uow, conversation_id)
    messages = await queries.list_messages(uow, conversation_id)
    if conversation.unread_count:
        await inbox.mark_read(uow, conversation_id)
    tz = await _zone(uow, principal)
    return Thread(
        conversation=conversation,
        name=contact_label(conversation.contact),
        window=window_label(conversation.window),
        bubbles=[_bubble(message, tz, uow.now) for message in messages],
    )


async def _rows(uow: UnitOfWork, principal: CurrentPrincipal) -> list[ConversationRow]:
    conversations = await queries.list_conversations(uow, limit=100)
    tz = await _zone(uow, principal)
    return [
        ConversationRow(
            conversation=c,
            name=contact_label(c.contact),
            when=time_label(c.last_message_at, tz, uow.now),
            window=window_label(c.window),
        )
        for c in conversations
    ]


@router.get("/inbox")
async def inbox_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        rows = await _rows(uow, principal)
    return render(request, "inbox/list.html", {"section": "inbox", "rows": rows})


@router.get("/inbox/rows")
async def inbox_rows(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """The list alone, for the page's polling."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        rows = await _rows(uow, principal)
    return render(request, "inbox/_rows.html", {"rows": rows})


async def _conversation_page(
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    conversation_id: uuid.UUID,
    *,
    text: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        thread = await _thread(uow, principal, conversation_id)
    return render(
        request,
        "inbox/conversation.html",
        {"section": "inbox", "thread": thread, "text": text, "error": error},
        status,
    )


@router.get("/inbox/{conversation_id}")
async def conversation_page(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    return await _conversation_page(request, state, principal, conversation_id)


@router.get("/inbox/{conversation_id}/thread")
async def conversation_thread(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """The thread alone, for the page's polling."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        thread = await _thread(uow, principal, conversation_id)
    return render(request, "inbox/_thread.html", {"thread": thread})


@router.post("/inbox/{conversation_id}/messages")
async def reply(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """Queue a reply (stored before we answer; the worker sends it). A closed 24-hour window
    or an empty message re-shows the page with the reason and what was typed."""
    text = (await form_dict(request)).get("body", "")
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            await outbound.enqueue(uow, principal, conversation_id, outbound.Outgoing(body=text))
    except DomainError as exc:
        return await _conversation_page(
            request,
            state,
            principal,
            conversation_id,
            text=text,
            error=exc.message,
            status=exc.status_code,
        )
    return redirect(f"/inbox/{conversation_id}")
