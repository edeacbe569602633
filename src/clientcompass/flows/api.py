"""JSON: flows, their drafts and published versions (owners and admins).

A draft that can't run is refused with 422 and `error.problems`: every problem, each with
the `step_id` and `step_title` it names (null for the flow as a whole).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from clientcompass.flows import by_hand, service
from clientcompass.flows.schemas import (
    FlowCreate,
    FlowErrorOut,
    FlowOut,
    FlowUpdate,
    FlowVersionOut,
    RunOut,
    RunStart,
    StarterOut,
)
from clientcompass.flows.starters import STARTERS
from clientcompass.models import FlowRun
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State

router = APIRouter(prefix="/api/v1", tags=["flows"])
RUNS_LIMIT = 200

INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": FlowErrorOut, "description": "Refused: `error.problems` lists them all"}
}
# Versions are numbered 1, 2, …; anything else is no version (and no database error).
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]


def problems_response(exc: service.FlowInvalid) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": exc.code,
                "message": exc.message,
                "problems": [problem.as_dict() for problem in exc.problems],
            }
        },
        status_code=422,
    )


@router.get("/flows", response_model=list[FlowOut])
async def list_flows(state: State, principal: CurrentManager) -> list[FlowOut]:
    """The business's flows, by name."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        return [FlowOut.of(flow) for flow in await service.list_flows(uow, principal)]


@router.get("/flows/starters", response_model=list[StarterOut])
async def starters(principal: CurrentManager) -> list[StarterOut]:
    """The starter flows `create` can copy."""
    return [StarterOut(slug=s.slug, name=s.name, summary=s.summary) for s in STARTERS.values()]


@router.post("/flows", response_model=FlowOut, status_code=201, responses=INVALID)
async def create_flow(data: FlowCreate, state: State, principal: CurrentManager) -> Response:
    """A new flow: a copy of a starter, the definition given, or a one-step hello."""
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            flow = await service.create_flow(
                uow, principal, data.name, starter=data.starter, definition=data.definition
            )
            out = FlowOut.of(flow)
    except service.FlowInvalid as exc:
        return problems_response(exc)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.get("/flows/{flow_id:uuid}", response_model=FlowOut)
async def get_flow(flow_id: uuid.UUID, state: State, principal: CurrentManager) -> FlowOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return FlowOut.of(await service.get_flow(uow, principal, flow_id))


@router.put("/flows/{flow_id:uuid}", response_model=FlowOut, responses=INVALID)
async def update_draft(
    flow_id: uuid.UUID, data: FlowUpdate, state: State, principal: CurrentManager
) -> Response:
    """Replace the draft (and the name); the live version is untouched until publish."""
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            flow = await service.save_draft(
                uow, principal, flow_id, data.definition, name=data.name
            )
            out = FlowOut.of(flow)
    except service.FlowInvalid as exc:
        return problems_response(exc)
    return JSONResponse(out.model_dump(mode="json"))


@router.post(
    "/flows/{flow_id:uuid}/publish",
    response_model=FlowVersionOut,
    status_code=201,
    responses=INVALID,
)
async def publish(flow_id: uuid.UUID, state: State, principal: CurrentManager) -> Response:
    """Freeze the draft as the next version and make it live."""
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            out = FlowVersionOut.of(await service.publish(uow, principal, flow_id))
    except service.FlowInvalid as exc:
        return problems_response(exc)
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@router.get("/flows/{flow_id:uuid}/versions", response_model=list[FlowVersionOut])
async def list_versions(
    flow_id: uuid.UUID, state: State, principal: CurrentManager
) -> list[FlowVersionOut]:
    """Published versions, newest first."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        return [FlowVersionOut.of(v) for v in await service.list_versions(uow, principal, flow_id)]


@router.get("/flows/{flow_id:uuid}/versions/{number}", response_model=FlowVersionOut)
async def get_version(
    flow_id: uuid.UUID, number: VersionNumber, state: State, principal: CurrentManager
) -> FlowVersionOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return FlowVersionOut.of(await service.get_version(uow, principal, flow_id, number))


@router.get("/flows/{flow_id:uuid}/runs", response_model=list[RunOut])
async def list_runs(flow_id: uuid.UUID, state: State, principal: CurrentManager) -> list[RunOut]:
    """The flow's runs, newest first (the latest 200)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.get_flow(uow, principal, flow_id)  # 404 for another business's
        runs = await uow.session.scalars(
            select(FlowRun)
            .where(FlowRun.tenant_id == principal.tenant_id, FlowRun.flow_id == flow_id)
            .order_by(FlowRun.started_at.desc())
            .limit(RUNS_LIMIT)
        )
        return [RunOut.of(run) for run in runs]


@router.post(
    "/conversations/{conversation_id:uuid}/flow-run", response_model=RunOut, status_code=201
)
async def start_run(
    conversation_id: uuid.UUID, data: RunStart, state: State, principal: CurrentPrincipal
) -> RunOut:
    """Start a published flow in this conversation by hand (refused while another runs)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        run = await by_hand.start_by_hand(uow, principal.user_id, conversation_id, data.flow_id)
        return RunOut.of(run)


@router.post("/conversations/{conversation_id:uuid}/flow-run/resume", response_model=RunOut)
async def resume_run(
    conversation_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> RunOut:
    """Give the thread back to its paused flow: it asks its question again."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        return RunOut.of(await by_hand.resume(uow, conversation_id))


@router.post("/conversations/{conversation_id:uuid}/flow-run/stop", response_model=RunOut)
async def stop_run(conversation_id: uuid.UUID, state: State, principal: CurrentPrincipal) -> RunOut:
    """Stop the flow running here; the thread is the team's."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        return RunOut.of(await by_hand.stop(uow, conversation_id, principal.name))
