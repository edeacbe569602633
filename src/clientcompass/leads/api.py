"""JSON API for leads: /api/v1/leads (list with filters, create, read, edit) and stage moves.
Thin routes over leads/service.py, which the pages and the flow engine use too."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query

from clientcompass.leads import service
from clientcompass.leads.schemas import LeadDetail, LeadIn, LeadOut, LeadPatch, StageIn
from clientcompass.models import LeadSource, LeadStage
from clientcompass.web.auth import CurrentPrincipal, State

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


@router.get("", response_model=list[LeadOut])
async def list_leads(
    state: State,
    principal: CurrentPrincipal,
    stage: LeadStage | None = None,
    source: LeadSource | None = None,
    owner_id: uuid.UUID | None = None,
    q: str = Query("", max_length=100, description="words of the service, suburb or name"),
    limit: int = Query(100, ge=1, le=service.MAX_LIST),
) -> list[LeadOut]:
    """Newest first."""
    filters = service.Filters(stage, source, owner_id, q)
    async with state.unit_of_work(principal.tenant_id) as uow:
        return await service.list_leads(uow, filters, limit=limit)


@router.post("", response_model=LeadDetail, status_code=201)
async def create_lead(data: LeadIn, state: State, principal: CurrentPrincipal) -> LeadDetail:
    """A new lead in stage `new` (announced as `lead.created`)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        lead = await service.create(uow, principal, data)
        return await service.get_detail(uow, lead.id)


@router.get("/{lead_id:uuid}", response_model=LeadDetail)
async def get_lead(lead_id: uuid.UUID, state: State, principal: CurrentPrincipal) -> LeadDetail:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return await service.get_detail(uow, lead_id)


@router.patch("/{lead_id:uuid}", response_model=LeadDetail)
async def update_lead(
    lead_id: uuid.UUID, data: LeadPatch, state: State, principal: CurrentPrincipal
) -> LeadDetail:
    """Only the fields sent change."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.update(uow, principal, lead_id, data)
        return await service.get_detail(uow, lead_id)


@router.post("/{lead_id:uuid}/stage", response_model=LeadDetail)
async def move_stage(
    lead_id: uuid.UUID, data: StageIn, state: State, principal: CurrentPrincipal
) -> LeadDetail:
    """new → contacted → quoted → won / lost; `lost` needs a `reason`, and a lost lead can be
    reopened as `new`. 422 names `stage` for a move that isn't allowed."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.move_stage(uow, principal, lead_id, data.stage, data.reason)
        return await service.get_detail(uow, lead_id)
