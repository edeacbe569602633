"""Erasing a customer's personal data: the confirmation page, its form, and the JSON route.

Owners and admins only, with a step-up (the person's own password) checked before anything
changes; a session that confirmed it in the last minutes may leave it out, and one confirmed
here opens that window (accounts/step_up.py). The page says exactly what goes and what a tax
invoice or credit note keeps, and until when. The form carries the session's CSRF token like every other (web/auth.py); the
JSON route takes the password in its body. After the erasure commits, the business's live
event stream is purged of the customer's entries (lifecycle/erasure.py says why XDEL).
"""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from clientcompass.accounts import step_up
from clientcompass.errors import DomainError
from clientcompass.lifecycle import erasure
from clientcompass.web.auth import CurrentManager, State
from clientcompass.web.forms import domain_error_fields
from clientcompass.web.render import form_dict, render
from clientcompass.web.state import AppState

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1/contacts", tags=["contacts"])


async def _page(
    request: Request,
    state: AppState,
    principal: CurrentManager,
    contact_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        found = await erasure.preview(uow, principal, contact_id)
    context = {
        "section": "contacts",
        "preview": found,
        "already": erasure.is_erased(found.contact.phone_e164),
        "stepped_up": step_up.is_recent(principal.session),
        "errors": errors or {},
        "values": {},
    }
    return render(request, "lifecycle/erase.html", context, status)


@router.get("/contacts/{contact_id:uuid}/erase")
async def erase_page(
    contact_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    return await _page(request, state, principal, contact_id)


async def _erase(
    request: Request,
    state: AppState,
    principal: CurrentManager,
    contact_id: uuid.UUID,
    password: str,
) -> erasure.Erased:
    async with (
        step_up.checked_by_the_service(state, principal, request, password),
        state.unit_of_work(principal.tenant_id) as uow,
    ):
        erased = await erasure.erase(
            uow,
            principal,
            contact_id,
            password=password,
            stepped_up=step_up.is_recent(principal.session),
        )
    # Committed: what the open tabs were told about this customer goes from the stream too.
    await state.announcer.drain()
    erased.counts["stream_entries"] = await erasure.purge_stream(
        state.redis, principal.tenant_id, erased.ids
    )
    if password:  # it was right: further destructive actions need not ask for a while
        await step_up.confirmed(state, principal)
    return erased


@router.post("/contacts/{contact_id:uuid}/erase")
async def erase_contact(
    contact_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    values = await form_dict(request)
    try:
        erased = await _erase(request, state, principal, contact_id, values.get("password", ""))
    except DomainError as exc:
        if exc.status_code == 404:
            raise
        return await _page(
            request,
            state,
            principal,
            contact_id,
            errors=domain_error_fields(exc),
            status=exc.status_code,
        )
    return render(
        request,
        "lifecycle/erase_done.html",
        {"section": "contacts", "contact_id": erased.contact_id, "counts": erased.counts},
    )


class ErasureIn(BaseModel):
    password: str = Field(
        "",
        max_length=200,
        description=(
            "your own password (step-up); may be left out by a session stepped up in the last "
            "minutes (POST /api/v1/me/step-up), or sent as X-Confirm-Password instead"
        ),
    )


class HeldDocument(BaseModel):
    id: uuid.UUID
    kind: str
    number: str
    held_until: date


class ErasureOut(BaseModel):
    contact_id: uuid.UUID
    counts: dict[str, int]
    held_documents: list[HeldDocument]


@api_router.post("/{contact_id:uuid}/erase", response_model=ErasureOut)
async def erase_contact_api(
    contact_id: uuid.UUID,
    data: ErasureIn,
    request: Request,
    state: State,
    principal: CurrentManager,
    x_confirm_password: str = Header("", include_in_schema=False, max_length=1024),
) -> ErasureOut:
    """Erase a customer's personal data (owners and admins; step-up: your password).
    Messages, media, notes, lead and flow answers and the contact's details are removed or
    anonymised for good; issued tax invoices and credit notes keep what SARS requires until 5
    years from issue (`held_documents`). A wrong password (422) changes nothing."""
    erased = await _erase(
        request, state, principal, contact_id, data.password or x_confirm_password
    )
    async with state.unit_of_work(principal.tenant_id) as uow:
        found = await erasure.preview(uow, principal, contact_id)
    return ErasureOut(
        contact_id=erased.contact_id,
        counts=erased.counts,
        held_documents=[
            HeldDocument(
                id=d.id,
                kind=d.kind,
                number=d.number or "",
                held_until=d.legal_hold_until or found.hold_until(d),
            )
            for d in found.held_documents
        ],
    )
