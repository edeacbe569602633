"""JSON API of the shared inbox: the filtered list, assignment, status, labels, notes,
canned responses and the live event stream. Same services as the pages."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BeforeValidator

from clientcompass.accounts.step_up import confirm
from clientcompass.auth.principal import Principal
from clientcompass.conversations import queries
from clientcompass.conversations import service as conversations
from clientcompass.conversations.schemas import ConversationOut, MessageIn, MessageOut, MessagesPage
from clientcompass.db import UnitOfWork
from clientcompass.errors import NotFound
from clientcompass.inbox import canned, listing, service
from clientcompass.inbox.schemas import (
    AssignIn,
    CannedIn,
    CannedOut,
    ConversationPage,
    EventOut,
    LabelIn,
    LabelsOut,
    NoteIn,
    StatusIn,
)
from clientcompass.models import CannedResponse, ConversationEvent, ConversationStatus
from clientcompass.realtime import sse
from clientcompass.web.auth import CurrentPrincipal, State


def _iso_datetime(value: object) -> object:
    """Only ISO 8601, as documented: pydantic alone also reads a number as a Unix time."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\S+", value):
        raise ValueError("Give the time as ISO 8601, e.g. 2026-03-12T10:00:00Z.")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]

router = APIRouter(prefix="/api/v1", tags=["inbox"])


def event_out(event: ConversationEvent) -> EventOut:
    return EventOut(
        id=event.id,
        kind=event.kind,
        body=event.body,
        author_id=event.author_id,
        data=event.data,
        created_at=event.created_at,
    )


def canned_out(item: CannedResponse) -> CannedOut:
    return CannedOut(id=item.id, shortcut=item.shortcut, body=item.body)


async def _one(
    uow: UnitOfWork, principal: Principal, conversation_id: uuid.UUID
) -> ConversationOut:
    found = await listing.get_one(uow, principal, conversation_id)
    if found is None:
        raise NotFound("That conversation does not exist.")
    return found


@router.get("/inbox", response_model=ConversationPage)
async def list_inbox(
    state: State,
    principal: CurrentPrincipal,
    view: listing.View = listing.View.ALL,
    status: ConversationStatus | None = None,
    label: str = Query("", max_length=40),
    q: str = Query("", max_length=100, description="contact name, phone number or message text"),
    after: str = Query("", max_length=80, description="`next_cursor` of the previous page"),
    limit: int = Query(50, ge=1, le=200),
) -> ConversationPage:
    """Newest activity first, keyset-paginated."""
    filters = listing.Filters(view=view, status=status, label=label, q=q)
    cursor = listing.Cursor.decode(after) if after else None
    async with state.unit_of_work(principal.tenant_id) as uow:
        return await listing.list_page(uow, principal, filters, after=cursor, limit=limit)


class EventStream(StreamingResponse):
    """What /events answers, so the schema names the stream's type rather than JSON."""

    media_type = "text/event-stream"


@router.get(
    "/events",
    response_class=EventStream,
    responses={
        200: {
            "description": "Server-Sent Events, until the server ends the stream (5 minutes).",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def events(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """Server-Sent Events for this business: `id` is the event id, `data` one JSON object
    with its `type` (message.created, message.status, conversation.assigned…). Reconnect
    with `Last-Event-ID` to receive everything missed."""
    return sse.response(request, state.redis, principal.tenant_id)


@router.get("/conversations", response_model=list[ConversationOut])
async def list_conversations(
    state: State,
    principal: CurrentPrincipal,
    limit: int = Query(50, ge=1, le=200),
    before: IsoDateTime | None = Query(
        None, description="keyset cursor: last_message_at of the last row seen"
    ),
) -> list[ConversationOut]:
    """Every conversation, newest activity first (`/api/v1/inbox` adds filters and search)."""
    # (before, the smallest id) as the keyset: exactly the rows older than `before`.
    after = listing.Cursor(before, uuid.UUID(int=0)) if before is not None else None
    async with state.unit_of_work(principal.tenant_id) as uow:
        page = await listing.list_page(uow, principal, listing.Filters(), after=after, limit=limit)
    return page.conversations


@router.get("/conversations/{conversation_id}/messages", response_model=MessagesPage)
async def list_messages(
    conversation_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> MessagesPage:
    async with state.unit_of_work(principal.tenant_id) as uow:
        conversation = await _one(uow, principal, conversation_id)
        messages = await queries.list_messages(uow, conversation_id)
    return MessagesPage(conversation=conversation, messages=messages)


@router.post(
    "/conversations/{conversation_id}/messages", response_model=MessageOut, status_code=202
)
async def send_message(
    conversation_id: uuid.UUID, data: MessageIn, state: State, principal: CurrentPrincipal
) -> MessageOut:
    """Accepted means stored as `queued`: it will be sent even if this process dies now.

    Give a `client_key` (a UUID of yours) to make the send safe to retry: the same key again
    answers with the message already stored, and sends nothing more."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        outgoing = await conversations.outgoing_from(uow, data, conversation_id)
        message = await conversations.send(uow, principal, conversation_id, outgoing)
        return queries.message_out(message, [])


@router.post("/conversations/{conversation_id}/assignee", response_model=ConversationOut)
async def assign(
    conversation_id: uuid.UUID, data: AssignIn, state: State, principal: CurrentPrincipal
) -> ConversationOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.assign(uow, principal, conversation_id, data.assignee_id)
        return await _one(uow, principal, conversation_id)


@router.post("/conversations/{conversation_id}/status", response_model=ConversationOut)
async def change_status(
    conversation_id: uuid.UUID, data: StatusIn, state: State, principal: CurrentPrincipal
) -> ConversationOut:
    """Open, pending, resolved, or snoozed `until` a time (it reopens by itself then)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await conversations.set_status(
            uow, principal, conversation_id, data.status, snooze_until=data.until
        )
        return await _one(uow, principal, conversation_id)


@router.get("/conversations/{conversation_id}/labels", response_model=LabelsOut)
async def list_labels(
    conversation_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> LabelsOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await _one(uow, principal, conversation_id)
        return LabelsOut(labels=await service.labels_of(uow, conversation_id))


@router.post("/conversations/{conversation_id}/labels", response_model=LabelsOut)
async def add_label(
    conversation_id: uuid.UUID, data: LabelIn, state: State, principal: CurrentPrincipal
) -> LabelsOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        labels = await service.add_label(uow, principal, conversation_id, data.label)
    return LabelsOut(labels=labels)


@router.delete("/conversations/{conversation_id}/labels/{label}", response_model=LabelsOut)
async def remove_label(
    conversation_id: uuid.UUID, label: str, state: State, principal: CurrentPrincipal
) -> LabelsOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        labels = await service.remove_label(uow, principal, conversation_id, label)
    return LabelsOut(labels=labels)


@router.get("/conversations/{conversation_id}/events", response_model=list[EventOut])
async def list_events(
    conversation_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> list[EventOut]:
    """Private notes and system events (assigned, status changes, labels) in the thread."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await _one(uow, principal, conversation_id)
        return [event_out(e) for e in await service.list_events(uow, conversation_id)]


@router.post("/conversations/{conversation_id}/notes", response_model=EventOut, status_code=201)
async def add_note(
    conversation_id: uuid.UUID, data: NoteIn, state: State, principal: CurrentPrincipal
) -> EventOut:
    """A private note for the team; never sent to the customer."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        note = await conversations.add_note(uow, principal, conversation_id, data.body)
        return event_out(note)


@router.get("/canned-responses", response_model=list[CannedOut])
async def list_canned(
    state: State, principal: CurrentPrincipal, prefix: str = Query("", max_length=41)
) -> list[CannedOut]:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return [canned_out(c) for c in await canned.list_canned(uow, prefix=prefix)]


@router.post("/canned-responses", response_model=CannedOut, status_code=201)
async def create_canned(data: CannedIn, state: State, principal: CurrentPrincipal) -> CannedOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        created = await canned.create_canned(uow, principal, shortcut=data.shortcut, body=data.body)
        return canned_out(created)


@router.put("/canned-responses/{canned_id}", response_model=CannedOut)
async def update_canned(
    canned_id: uuid.UUID, data: CannedIn, state: State, principal: CurrentPrincipal
) -> CannedOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        updated = await canned.update_canned(uow, canned_id, shortcut=data.shortcut, body=data.body)
        return canned_out(updated)


@router.delete("/canned-responses/{canned_id}", status_code=204)
async def delete_canned(
    canned_id: uuid.UUID,
    state: State,
    principal: CurrentPrincipal,
    confirmed: None = confirm("delete this canned response"),
) -> Response:
    """Delete a canned response for the whole team. Step-up: a session confirmed in the last
    minutes (POST /api/v1/me/step-up), or X-Confirm-Password."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await canned.delete_canned(uow, principal, canned_id)
    return Response(status_code=204)
