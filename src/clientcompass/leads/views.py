"""Leads pages: the board (a column per stage, a "Move to" control on each card that works
by touch), the list with filters, a lead's page, and the new/edit form. The reports are drawn
on the board and the list (reports.py). Thin: the same services as the JSON API."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from clientcompass.auth.principal import Principal
from clientcompass.errors import DomainError, InvalidInput
from clientcompass.leads import reports, service
from clientcompass.leads.schemas import LeadIn, LeadOut, LeadPatch, StageIn
from clientcompass.models import Contact, LeadSource, LeadStage
from clientcompass.names import display_name
from clientcompass.realtime import sse
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.forms import domain_error_fields, parse
from clientcompass.web.render import form_dict, redirect, render, safe_next
from clientcompass.web.state import AppState

router = APIRouter(include_in_schema=False)
FORM_FIELDS = ("contact_id", "service", "suburb", "urgency", "estimated_value", "owner_id")
MAX_CONTACTS = 500


def _choice(enum: type[LeadStage] | type[LeadSource], value: str) -> Any:
    try:
        return enum(value) if value else None
    except ValueError:
        return None


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def moves_of(lead: LeadOut) -> list[tuple[str, str]]:
    """The stages a person may move this lead to, as (value, label)."""
    return [
        (stage.value, service.STAGE_LABELS[stage])
        for stage in LeadStage
        if stage in service.MOVES[LeadStage(lead.stage)]
    ]


def _common(principal: Principal) -> dict[str, Any]:
    return {
        "section": "leads",
        "stages": [(stage.value, label) for stage, label in service.STAGE_LABELS.items()],
        "sources": [(source.value, label) for source, label in service.SOURCE_LABELS.items()],
        "moves_of": moves_of,
    }


@router.get("/leads")
async def leads_page(
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    view: str = Query("board", max_length=10),
    stage: str = Query("", max_length=20),
    source: str = Query("", max_length=20),
    owner_id: str = Query("", max_length=40),
    q: str = Query("", max_length=100),
) -> Response:
    as_list = view == "list"
    filters = service.Filters(
        _choice(LeadStage, stage) if as_list else None,
        _choice(LeadSource, source),
        _uuid(owner_id),
        q,
    )
    async with state.unit_of_work(principal.tenant_id) as uow:
        leads = await service.list_leads(uow, filters, limit=service.MAX_LIST)
        members = await service.members(uow)
        charts = await reports.build(uow)
    last_event_id = await sse.head(state.redis, principal.tenant_id)
    values = {"stage": stage, "source": source, "owner_id": owner_id, "q": q}
    columns = [
        (value, label, [lead for lead in leads if lead.stage == value])
        for value, label in _common(principal)["stages"]
    ]
    context = {
        **_common(principal),
        "view": "list" if as_list else "board",
        "leads": leads,
        "columns": columns,
        "members": [(str(member_id), name) for member_id, name in members],
        "owners": {str(member_id): name for member_id, name in members},
        "values": values,
        "reports": charts,
        "last_event_id": last_event_id,
        "here": request.url.path + ("?" + urlencode(values | {"view": "list"}) if as_list else ""),
    }
    return render(request, "leads/index.html", context)


async def _form(
    request: Request,
    state: AppState,
    principal: Principal,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        members = await service.members(uow)
        rows = await uow.session.execute(
            select(Contact.id, Contact.name, Contact.profile_name, Contact.phone_e164)
            .where(Contact.tenant_id == principal.tenant_id)
            .order_by(Contact.sort_name)
            .limit(MAX_CONTACTS)
        )
        contacts = [
            (
                str(row.id),
                f"{display_name(row.name, row.profile_name) or 'No name'} · {row.phone_e164}",
            )
            for row in rows
        ]
    context = {
        "section": "leads",
        "values": values,
        "errors": errors or {},
        "contacts": contacts,
        "members": [(str(member_id), name) for member_id, name in members],
        "editing": bool(values.get("lead_id")),
    }
    return render(request, "leads/form.html", context, status)


@router.get("/leads/new")
async def new_lead_page(
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    contact_id: str = Query("", max_length=40),
) -> Response:
    return await _form(request, state, principal, {"contact_id": contact_id})


@router.get("/leads/{lead_id:uuid}/edit")
async def edit_lead_page(
    lead_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        lead = await service.get_detail(uow, lead_id)
    values = {
        "lead_id": str(lead.id),
        "contact_id": str(lead.contact_id),
        "service": lead.service,
        "suburb": lead.suburb,
        "urgency": lead.urgency,
        "estimated_value": lead.estimated_value.replace("\u00a0", " ").removeprefix("R "),
        "owner_id": str(lead.owner_id or ""),
    }
    return await _form(request, state, principal, values)


@router.post("/leads")
async def save_lead(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """New and edited leads both post here (the edit form carries `lead_id`)."""
    values = await form_dict(request)
    fields = {k: values.get(k, "") for k in FORM_FIELDS}
    fields["owner_id"] = fields["owner_id"] or None  # type: ignore[assignment]
    lead_id = _uuid(values.get("lead_id", ""))
    errors: dict[str, str]
    try:
        if lead_id is not None:
            patch, errors = parse(LeadPatch, {k: v for k, v in fields.items() if k != "contact_id"})
            if patch is not None:
                async with state.unit_of_work(principal.tenant_id) as uow:
                    await service.update(uow, principal, lead_id, patch)
                return redirect(f"/leads/{lead_id}")
        else:
            data, errors = parse(LeadIn, fields)
            if data is not None:
                async with state.unit_of_work(principal.tenant_id) as uow:
                    lead = await service.create(uow, principal, data)
                return redirect(f"/leads/{lead.id}")
    except DomainError as exc:
        errors = domain_error_fields(exc)
    if "contact_id" in errors and not fields["contact_id"]:
        errors["contact_id"] = "Choose the customer."
    return await _form(request, state, principal, values, errors, 422)


async def _lead_page(
    request: Request,
    state: AppState,
    principal: Principal,
    lead_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        lead = await service.get_detail(uow, lead_id)
        members = await service.members(uow)
    owners = {str(member_id): name for member_id, name in members}
    context = {
        **_common(principal),
        "lead": lead,
        "owner": owners.get(str(lead.owner_id), ""),
        "moves": moves_of(lead),
        "errors": errors or {},
        "stage_label": service.STAGE_LABELS[LeadStage(lead.stage)],
        "source_label": service.SOURCE_LABELS[LeadSource(lead.source)],
        "actors": owners,
    }
    return render(request, "leads/detail.html", context, status)


@router.get("/leads/{lead_id:uuid}")
async def lead_page(
    lead_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    return await _lead_page(request, state, principal, lead_id)


@router.post("/leads/{lead_id:uuid}/stage")
async def move_stage(
    lead_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """The board's "Move to" buttons and the lead page's stage form (with a lost reason)."""
    values = await form_dict(request)
    data, errors = parse(
        StageIn, {"stage": values.get("stage", ""), "reason": values.get("reason", "")}
    )
    if data is not None:
        try:
            async with state.unit_of_work(principal.tenant_id) as uow:
                await service.move_stage(uow, principal, lead_id, data.stage, data.reason)
            return redirect(safe_next(values.get("next"), f"/leads/{lead_id}"))
        except InvalidInput as exc:
            errors = domain_error_fields(exc)
    return await _lead_page(request, state, principal, lead_id, errors=errors, status=422)
