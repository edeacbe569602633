"""JSON API of the shared inbox: the filtered list, assignment, status, labels, notes,
canned responses and the live event stream. Same services as the pages."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import NotFound
from clientcompass.inbox import canned, listing, service, stream
from clientcompass.inbox.schemas import (
    AssignIn,
    CannedIn,
    CannedOut,
    ConversationPage,
    EventOut,
    InboxConversationOut,
    LabelIn,
    LabelsOut,
    NoteIn,
    StatusIn,
)
from clientcompass.inbox.views import SSE_HEADERS
from clientcompass.models import CannedResponse, ConversationEvent, ConversationStatus
from clientcompass.web.auth import CurrentPrincipal, State

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
) -> InboxConversationOut:
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


@router.get("/events")
async def events(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """Server-Sent Events for this business: `id` is the event id, `data` one JSON object
    with its `type` (message.created, message.status, conversation.assigned…). Reconnect
    with `Last-Event-ID` to receive everything missed."""
    last = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    return StreamingResponse(
        stream.event_stream(state.redis, principal.tenant_id, last),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


@router.post("/conversations/{conversation_id}/assignee", response_model=InboxConversationOut)
async def assign(
    conversation_id: uuid.UUID, data: AssignIn, state: State, principal: CurrentPrincipal
) -> InboxConversationOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.assign(uow, state.redis, principal, conversation_id, data.assignee_id)
        return await _one(uow, principal, conversation_id)


@router.post("/conversations/{conversation_id}/status", response_model=InboxConversationOut)
async def change_status(
    conversation_id: uuid.UUID, data: StatusIn, state: State, principal: CurrentPrincipal
) -> InboxConversationOut:
    """Open, pending, resolved, or snoozed `until` a time (it reopens by itself then)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.set_status(
            uow, state.redis, principal, conversation_id, data.status, snooze_until=data.until
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
        labels = await service.add_label(uow, state.redis, principal, conversation_id, data.label)
    return LabelsOut(labels=labels)


@router.delete("/conversations/{conversation_id}/labels/{label}", response_model=LabelsOut)
async def remove_label(
    conversation_id: uuid.UUID, label: str, state: State, principal: CurrentPrincipal
) -> LabelsOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        labels = await service.remove_label(uow, state.redis, principal, conversation_id, label)
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
        note = await service.add_note(uow, state.redis, principal, conversation_id, data.body)
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
    canned_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await canned.delete_canned(uow, canned_id)
    return Response(status_code=204)
