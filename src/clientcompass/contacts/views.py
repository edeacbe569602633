"""Contact pages: list and search, a contact's page, create, edit, merge, CSV in and out.

Thin: each route parses the form with the API's schemas and calls the same services.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from clientcompass.accounts.step_up import confirm
from clientcompass.auth.principal import Principal
from clientcompass.contacts import consent, csv_io, imports, merge, service
from clientcompass.contacts.schemas import (
    ContactDocument,
    ContactIn,
    ContactOut,
    ContactPatch,
    ImportResult,
    ImportStatus,
)
from clientcompass.conversations import service as conversations
from clientcompass.documents.money import format_zar
from clientcompass.errors import DomainError, InvalidInput
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State
from clientcompass.web.forms import domain_error_fields, parse
from clientcompass.web.render import form_dict, redirect, render
from clientcompass.web.state import AppState

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
FORM_FIELDS = ("name", "phone", "email", "address", "tags", "notes")


def form_values(contact: ContactOut) -> dict[str, str]:
    return {
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "address": contact.address,
        "tags": ", ".join(contact.tags),
        "notes": contact.notes,
    }


async def _list_context(state: AppState, principal: Principal, request: Request) -> dict[str, Any]:
    q = request.query_params.get("q", "")[:100]
    cursor = request.query_params.get("cursor", "")[:600]
    async with state.unit_of_work(principal.tenant_id) as uow:
        contacts, following = await service.list_contacts(
            uow, search=q, limit=PAGE_SIZE, cursor=cursor
        )
    more = urlencode({"q": q, "cursor": following}) if following else ""
    return {"section": "contacts", "contacts": contacts, "q": q, "more": more, "paged": cursor}


@router.get("/contacts")
async def contacts_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    context = await _list_context(state, principal, request)
    rows_only = request.headers.get("hx-request") and not request.headers.get(
        "hx-history-restore-request"
    )
    template = "contacts/_rows.html" if rows_only else "contacts/list.html"
    return render(request, template, context)


@router.get("/contacts/new")
async def new_contact_page(request: Request, principal: CurrentPrincipal) -> Response:
    return render(
        request, "contacts/form.html", {"section": "contacts", "values": {}, "errors": {}}
    )


@router.post("/contacts")
async def create_contact(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    values = await form_dict(request)
    data, errors = parse(ContactIn, {k: values.get(k, "") for k in FORM_FIELDS})
    if data is not None:
        try:
            async with state.unit_of_work(principal.tenant_id) as uow:
                contact = await service.create_contact(uow, principal, data)
            return redirect(f"/contacts/{contact.id}?created=1")
        except DomainError as exc:
            errors = domain_error_fields(exc)
    context = {"section": "contacts", "values": values, "errors": errors}
    return render(request, "contacts/form.html", context, 422)


def _import_page(
    request: Request,
    *,
    result: ImportResult | None = None,
    status: ImportStatus | None = None,
    problem: str = "",
    code: int = 200,
) -> Response:
    context = {
        "section": "contacts",
        "result": result,
        "status": status,
        "problem": problem,
        "max_rows": csv_io.MAX_IMPORT_ROWS,
        "max_mb": csv_io.MAX_IMPORT_BYTES // (1024 * 1024),
        "sync_rows": imports.SYNC_ROW_LIMIT,
    }
    if request.headers.get("hx-request"):
        # htmx swaps only 2xx answers: the report is the answer, whatever it says.
        return render(request, "contacts/_import_result.html", context)
    return render(request, "contacts/import.html", context, code)


@router.get("/contacts/import")
async def import_page(request: Request, principal: CurrentPrincipal) -> Response:
    return _import_page(request)


@router.post("/contacts/import")
async def import_contacts(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    try:
        csv_io.check_declared_size(request.headers.get("content-length"))
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("Choose a CSV file to import.", field="file")
        data = await upload.read(csv_io.MAX_IMPORT_BYTES + 1)
        async with state.unit_of_work(principal.tenant_id) as uow:
            started = await imports.start_import(uow, state.redis, data)
    except DomainError as exc:
        return _import_page(request, problem=exc.message, code=exc.status_code)
    if isinstance(started, ImportStatus):
        if not request.headers.get("hx-request"):
            return redirect(f"/contacts/import/{started.id}")
        return _import_page(request, status=started)
    return _import_page(request, result=started, code=422 if started.errors else 200)


@router.get("/contacts/import/{import_id:uuid}")
async def import_status_page(
    import_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """A large import's progress; the page polls `…/status` until the job has finished."""
    status = await imports.read_status(state.redis, principal.tenant_id, import_id)
    return _import_page(request, status=status)


@router.get("/contacts/import/{import_id:uuid}/status")
async def import_status(
    import_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    status = await imports.read_status(state.redis, principal.tenant_id, import_id)
    return render(request, "contacts/_import_status.html", {"status": status})


@router.get("/contacts/export")
async def export_contacts(state: State, principal: CurrentPrincipal) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        body = await csv_io.export_csv(uow, principal)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="contacts.csv"'},
    )


DOCUMENT_PATHS = {"quote": "quotes", "invoice": "invoices", "credit_note": "credit-notes"}
DOCUMENT_NOUNS = {"quote": "Quote", "invoice": "Invoice", "credit_note": "Credit note"}


def document_row(document: ContactDocument) -> dict[str, str]:
    """How the contact page lists a quote, invoice or credit note."""
    return {
        "href": f"/{DOCUMENT_PATHS[document.kind]}/{document.id}",
        "label": f"{DOCUMENT_NOUNS[document.kind]} {document.number or '(draft)'}",
        "status": document.status.replace("_", " "),
        "total": format_zar(document.total_cents),
        "date": document.issue_date.isoformat() if document.issue_date else "",
    }


async def _contact_page(
    request: Request,
    state: AppState,
    principal: Principal,
    contact_id: uuid.UUID,
    *,
    merge_errors: dict[str, str] | None = None,
    merge_values: dict[str, str] | None = None,
    consent_errors: dict[str, str] | None = None,
    consent_values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        contact = await service.get_detail(uow, contact_id)
        duplicates = await service.likely_duplicates(uow, contact_id)
        connected = bool(await conversations.connected_channels(uow))
        consent_history = await consent.history(uow, contact_id)
    context = {
        "section": "contacts",
        "contact": contact,
        "whatsapp_connected": connected,
        "duplicates": duplicates,
        "documents": [document_row(document) for document in contact.documents],
        "merge_errors": merge_errors or {},
        "merge_values": merge_values or {},
        "consent_history": consent_history,
        "consent_since": consent.format_date(contact.marketing.opted_out_at)
        if contact.marketing.opted_out_at
        else "",
        "consent_errors": consent_errors or {},
        "consent_values": consent_values or {},
        "notice": {
            "saved": "Saved.",
            "created": "Contact added.",
            "consent": "Marketing consent recorded.",
            "merged": "Merged: the duplicate's conversations and documents are now here.",
        }.get(next(iter(request.query_params), ""), ""),
    }
    return render(request, "contacts/detail.html", context, status)


@router.get("/contacts/{contact_id:uuid}")
async def contact_page(
    contact_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    return await _contact_page(request, state, principal, contact_id)


@router.post("/contacts/{contact_id:uuid}/message")
async def message_contact(
    contact_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> Response:
    """Open the contact's conversation in the inbox, where the composer offers free text
    inside the 24-hour window and the approved templates outside it."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        conversation_id = await service.start_conversation(uow, contact_id)
    return redirect(f"/inbox/{conversation_id}")


@router.get("/contacts/{contact_id:uuid}/edit")
async def edit_contact_page(
    contact_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        contact = await service.get_contact(uow, contact_id)
    context = {
        "section": "contacts",
        "contact": contact,
        "values": form_values(contact),
        "errors": {},
    }
    return render(request, "contacts/form.html", context)


async def _save(
    state: AppState, principal: Principal, contact_id: uuid.UUID, values: dict[str, str]
) -> tuple[ContactOut, dict[str, str]]:
    """Save the edit form; the contact as it now is, and the form's errors (nothing saved)."""
    data, errors = parse(ContactIn, {k: values.get(k, "") for k in FORM_FIELDS})
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            contact = await service.get_contact(uow, contact_id)  # 404 before any form error
            if data is not None:
                patch = ContactPatch.model_validate(data.model_dump())
                saved = await service.update_contact(uow, principal, contact_id, patch)
                contact = service.contact_out(saved)
    except InvalidInput as exc:
        errors = domain_error_fields(exc)
    return contact, errors


@router.post("/contacts/{contact_id:uuid}")
async def update_contact(
    contact_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    values = await form_dict(request)
    contact, errors = await _save(state, principal, contact_id, values)
    if not errors:
        return redirect(f"/contacts/{contact.id}?saved=1")
    context = {"section": "contacts", "contact": contact, "values": values, "errors": errors}
    return render(request, "contacts/form.html", context, 422)


async def _panel(
    request: Request,
    state: AppState,
    principal: Principal,
    contact_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        contact = await service.get_detail(uow, contact_id)
    context = {
        "contact": contact,
        "values": values if errors else form_values(contact),
        "errors": errors or {},
        "saved": saved,
    }
    # Always 200: htmx swaps only 2xx answers, and the form errors are part of the panel.
    return render(request, "contacts/_panel.html", context)


@router.get("/contacts/{contact_id:uuid}/panel")
async def contact_panel(
    contact_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """The contact card the inbox shows beside a thread (`hx-get` it; it edits in place)."""
    return await _panel(request, state, principal, contact_id)


@router.post("/contacts/{contact_id:uuid}/panel")
async def save_contact_panel(
    contact_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    values = await form_dict(request)
    _contact, errors = await _save(state, principal, contact_id, values)
    return await _panel(
        request, state, principal, contact_id, values=values, errors=errors, saved=not errors
    )


@router.post("/contacts/{contact_id:uuid}/merge")
async def merge_contact(
    contact_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """The page names the duplicate by phone number; the API by id. Same merge."""
    values = await form_dict(request)
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            duplicate = await service.find_by_phone_text(uow, values.get("duplicate_phone", ""))
            await merge.merge_contacts(uow, principal, contact_id, duplicate.id)
        return redirect(f"/contacts/{contact_id}?merged=1")
    except InvalidInput as exc:
        return await _contact_page(
            request,
            state,
            principal,
            contact_id,
            merge_errors={"duplicate_phone": exc.message},
            merge_values=values,
            status=422,
        )


@router.post("/contacts/{contact_id:uuid}/marketing-consent")
async def record_consent(
    contact_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """A member records an opt-out or opt-in the customer gave elsewhere, with a reason."""
    values = await form_dict(request)
    try:
        choice = values.get("choice", "")
        if choice not in ("out", "in"):
            raise InvalidInput("Choose whether to record an opt-out or an opt-in.", field="reason")
        async with state.unit_of_work(principal.tenant_id) as uow:
            await consent.record_by_member(
                uow, principal, contact_id, opted_in=choice == "in", reason=values.get("reason", "")
            )
        return redirect(f"/contacts/{contact_id}?consent=1#marketing")
    except InvalidInput as exc:
        return await _contact_page(
            request,
            state,
            principal,
            contact_id,
            consent_errors=domain_error_fields(exc),
            consent_values=values,
            status=422,
        )


@router.post("/contacts/{contact_id:uuid}/delete")
async def delete_contact(
    contact_id: uuid.UUID,
    state: State,
    principal: CurrentManager,
    confirmed: None = confirm("delete this contact"),
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.delete_contact(uow, principal, contact_id)
    return redirect("/contacts")
