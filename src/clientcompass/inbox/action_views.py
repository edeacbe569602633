"""Conversation actions from the page (assign, status and snooze, labels, notes) and the
canned responses page. Plain forms that work without JavaScript: each calls the service
the JSON API calls, then goes back to the conversation; teammates see it live."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.accounts.step_up import confirm
from clientcompass.conversations import service as conversations
from clientcompass.errors import DomainError, InvalidInput
from clientcompass.inbox import canned, service
from clientcompass.models import ConversationStatus
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.render import form_dict, redirect, render

router = APIRouter(include_in_schema=False)


def _back(conversation_id: uuid.UUID) -> Response:
    return redirect(f"/inbox/{conversation_id}")


@router.post("/inbox/{conversation_id:uuid}/assign")
async def assign(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """`assignee_id` is a teammate's id, `me`, or empty to unassign."""
    chosen = (await form_dict(request)).get("assignee_id", "")
    try:
        assignee = principal.user_id if chosen == "me" else (uuid.UUID(chosen) if chosen else None)
    except ValueError as exc:
        raise InvalidInput("Choose someone on your team.", field="assignee_id") from exc
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.assign(uow, principal, conversation_id, assignee)
    return _back(conversation_id)


def parse_until(text: str) -> datetime | None:
    """An ISO instant from the snooze presets (or an API client); None when empty."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput("Choose when the conversation should wake up.", field="until") from exc


@router.post("/inbox/{conversation_id:uuid}/status")
async def change_status(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    form = await form_dict(request)
    try:
        status = ConversationStatus(form.get("status", ""))
    except ValueError as exc:
        raise InvalidInput("Choose open, pending, resolved or snoozed.", field="status") from exc
    async with state.unit_of_work(principal.tenant_id) as uow:
        await conversations.set_status(
            uow,
            principal,
            conversation_id,
            status,
            snooze_until=parse_until(form.get("until", "")),
        )
    return _back(conversation_id)


@router.post("/inbox/{conversation_id:uuid}/labels")
async def add_label(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    label = (await form_dict(request)).get("label", "")
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.add_label(uow, principal, conversation_id, label)
    return _back(conversation_id)


@router.post("/inbox/{conversation_id:uuid}/labels/remove")
async def remove_label(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    label = (await form_dict(request)).get("label", "")
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.remove_label(uow, principal, conversation_id, label)
    return _back(conversation_id)


@router.post("/inbox/{conversation_id:uuid}/notes")
async def add_note(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    body = (await form_dict(request)).get("note", "")
    async with state.unit_of_work(principal.tenant_id) as uow:
        await conversations.add_note(uow, principal, conversation_id, body)
    return _back(conversation_id)


async def _canned_page(
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    *,
    error: DomainError | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        responses = await canned.list_canned(uow)
    return render(
        request,
        "inbox/canned.html",
        {
            "section": "inbox",
            "responses": responses,
            "error": error,
            "values": values or {},
            "saved": request.query_params.get("saved", ""),
        },
        error.status_code if error else 200,
    )


@router.get("/inbox/canned")
async def canned_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    return await _canned_page(request, state, principal)


@router.post("/inbox/canned")
async def create_canned(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    form = await form_dict(request)
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            await canned.create_canned(
                uow, principal, shortcut=form.get("shortcut", ""), body=form.get("body", "")
            )
    except DomainError as exc:
        return await _canned_page(request, state, principal, error=exc, values=form)
    return redirect("/inbox/canned?saved=1")


@router.post("/inbox/canned/{canned_id:uuid}")
async def update_canned(
    canned_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    form = await form_dict(request)
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            await canned.update_canned(
                uow, canned_id, shortcut=form.get("shortcut", ""), body=form.get("body", "")
            )
    except DomainError as exc:
        return await _canned_page(request, state, principal, error=exc, values=form)
    return redirect("/inbox/canned?saved=1")


@router.post("/inbox/canned/{canned_id:uuid}/delete")
async def delete_canned(
    canned_id: uuid.UUID,
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    confirmed: None = confirm("delete this canned response"),
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await canned.delete_canned(uow, principal, canned_id)
    return redirect("/inbox/canned?saved=1")
