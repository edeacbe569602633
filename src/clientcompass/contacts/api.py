"""JSON API for contacts: list and search, read, create, edit, delete, merge, CSV in and out."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from clientcompass.accounts.step_up import confirm
from clientcompass.contacts import csv_io, imports, merge, service
from clientcompass.contacts.schemas import (
    ContactDetail,
    ContactIn,
    ContactOut,
    ContactPatch,
    ImportResult,
    ImportStatus,
    MergeIn,
)
from clientcompass.conversations.queries import message_out
from clientcompass.conversations.schemas import MessageIn, MessageOut
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State
from clientcompass.web.errors import error_body

router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"])


def next_link(request: Request, cursor: str) -> str:
    query = {k: v for k, v in request.query_params.items() if k != "cursor"}
    return f'<{request.url.path}?{urlencode({**query, "cursor": cursor})}>; rel="next"'


@router.get("", response_model=list[ContactOut])
async def list_contacts(
    request: Request,
    response: Response,
    state: State,
    principal: CurrentPrincipal,
    q: str = Query("", max_length=100, description="words of a name or email, or phone digits"),
    limit: int = Query(100, ge=1, le=500),
    cursor: str = Query("", max_length=600, description="from the previous page's Link header"),
) -> list[ContactOut]:
    """In name order. When there are more, the `Link` header (rel="next") has the next page."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        contacts, following = await service.list_contacts(uow, search=q, limit=limit, cursor=cursor)
    if following:
        response.headers["link"] = next_link(request, following)
    return contacts


@router.post("", response_model=ContactOut, status_code=201)
async def create_contact(data: ContactIn, state: State, principal: CurrentPrincipal) -> ContactOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        contact = await service.create_contact(uow, principal, data)
        return service.contact_out(contact)


@router.get("/export", response_class=Response)
async def export_contacts(state: State, principal: CurrentPrincipal) -> Response:
    """Every contact as CSV (who may export: the team page); cells are neutralised against
    formulas."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        body = await csv_io.export_csv(uow, principal)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="contacts.csv"'},
    )


@router.post(
    "/import",
    response_model=ImportResult,
    responses={202: {"model": ImportStatus, "description": "a large file, queued as a job"}},
)
async def import_contacts(
    request: Request, file: UploadFile, state: State, principal: CurrentPrincipal
) -> Response:
    """All or nothing: with any bad row, nothing is imported and the answer (422) lists every
    bad row. A phone number already in contacts updates that contact. A file of more than
    500 rows is imported by a job: the answer is 202 and its status is at `Location`."""
    csv_io.check_declared_size(request.headers.get("content-length"))
    data = await file.read(csv_io.MAX_IMPORT_BYTES + 1)
    async with state.unit_of_work(principal.tenant_id) as uow:
        started = await imports.start_import(uow, state.redis, data)
    if isinstance(started, ImportStatus):
        location = f"/api/v1/contacts/imports/{started.id}"
        return JSONResponse(started.model_dump(mode="json"), 202, headers={"location": location})
    return import_answer(started)


def import_answer(result: ImportResult) -> Response:
    if result.errors:
        body = error_body(
            "invalid_rows",
            f"{len({e.row for e in result.errors})} rows need attention; nothing was imported.",
        )
        body["rows"] = [error.model_dump() for error in result.errors]
        return JSONResponse(body, 422)
    return JSONResponse(result.model_dump())


@router.get("/imports/{import_id:uuid}", response_model=ImportStatus)
async def import_status(
    import_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> ImportStatus:
    """A queued import's progress, then its result (`state` done; errors listed as for a small
    file); kept for an hour."""
    return await imports.read_status(state.redis, principal.tenant_id, import_id)


@router.get("/{contact_id:uuid}", response_model=ContactDetail)
async def get_contact(
    contact_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> ContactDetail:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return await service.get_detail(uow, contact_id)


@router.post("/{contact_id:uuid}/messages", response_model=MessageOut, status_code=202)
async def message_contact(
    contact_id: uuid.UUID, data: MessageIn, state: State, principal: CurrentPrincipal
) -> MessageOut:
    """Write to a contact first, in their conversation (started if need be): `text` inside
    the 24-hour window, an approved `template` outside it (422 `window_closed` otherwise)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        sent = await service.message(uow, principal, contact_id, data)
        return message_out(sent, [])


@router.patch("/{contact_id:uuid}", response_model=ContactOut)
async def update_contact(
    contact_id: uuid.UUID, data: ContactPatch, state: State, principal: CurrentPrincipal
) -> ContactOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        contact = await service.update_contact(uow, principal, contact_id, data)
        return service.contact_out(contact)


@router.delete("/{contact_id:uuid}", status_code=204)
async def delete_contact(
    contact_id: uuid.UUID,
    state: State,
    principal: CurrentManager,
    confirmed: None = confirm("delete this contact"),
) -> None:
    """Only a contact without conversations or documents; merge the others. Step-up: a
    session confirmed in the last minutes (POST /api/v1/me/step-up), or X-Confirm-Password."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.delete_contact(uow, principal, contact_id)


@router.post("/{contact_id:uuid}/merge", response_model=ContactOut)
async def merge_contacts(
    contact_id: uuid.UUID, data: MergeIn, state: State, principal: CurrentPrincipal
) -> ContactOut:
    """Move `duplicate_id`'s conversations and documents here, keep the fuller details, and
    delete the duplicate."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        contact = await merge.merge_contacts(uow, principal, contact_id, data.duplicate_id)
        return service.contact_out(contact)
