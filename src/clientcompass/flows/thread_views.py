"""A flow in the inbox thread: what is running and where it waits, with Resume and Stop, or a
published flow to start by hand. Plain forms that work without JavaScript; each calls the
functions the JSON API calls (flows/by_hand.py), then goes back to the conversation."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from clientcompass.conversations.queries import find_conversation_contact
from clientcompass.errors import InvalidInput
from clientcompass.flows import by_hand, runtime, steps
from clientcompass.models import Flow, RunStatus
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.render import form_dict, redirect, render

router = APIRouter(include_in_schema=False)

STATUS_LABELS = {
    RunStatus.RUNNING.value: "Running",
    RunStatus.PAUSED.value: "Paused: a team member took over",
}
WAITING_LABELS = {
    "answer": "waiting for the customer's answer to",
    "timer": "waiting before",
    "webhook": "waiting for the webhook in",
}


@router.get("/inbox/{conversation_id:uuid}/flow")
async def flow_panel(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await find_conversation_contact(uow, conversation_id)  # 404 if not this business's
        run = await runtime.live_run(uow, conversation_id)
        step_title = ""
        flow_name = ""
        if run is not None:
            definition = await steps.definition_of(uow, run)
            step = next((s for s in definition.steps if s.id == run.step_id), None)
            step_title = step.title if step is not None else ""
            flow = await uow.session.get(Flow, (principal.tenant_id, run.flow_id))
            flow_name = flow.name if flow is not None else ""
        published = list(
            (
                await uow.session.execute(
                    select(Flow.id, Flow.name)
                    .where(Flow.tenant_id == principal.tenant_id)
                    .where(Flow.live_version.is_not(None))
                    .order_by(Flow.name)
                )
            ).all()
        )
    return render(
        request,
        "flows/_thread_panel.html",
        {
            "conversation_id": conversation_id,
            "run": run,
            "flow_name": flow_name,
            "step_title": step_title,
            "status_label": STATUS_LABELS.get(run.status, "") if run else "",
            "waiting_label": WAITING_LABELS.get(run.waiting, "") if run else "",
            "published": published,
        },
    )


def _back(conversation_id: uuid.UUID) -> Response:
    return redirect(f"/inbox/{conversation_id}")


@router.post("/inbox/{conversation_id:uuid}/flow/start")
async def start_flow(
    conversation_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    chosen = (await form_dict(request)).get("flow_id", "")
    try:
        flow_id = uuid.UUID(chosen)
    except ValueError as exc:
        raise InvalidInput("Choose a published flow to start.", field="flow_id") from exc
    async with state.unit_of_work(principal.tenant_id) as uow:
        await by_hand.start_by_hand(uow, principal.user_id, conversation_id, flow_id)
    return _back(conversation_id)


@router.post("/inbox/{conversation_id:uuid}/flow/resume")
async def resume_flow(
    conversation_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await by_hand.resume(uow, conversation_id)
    return _back(conversation_id)


@router.post("/inbox/{conversation_id:uuid}/flow/stop")
async def stop_flow(
    conversation_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await by_hand.stop(uow, conversation_id, principal.name)
    return _back(conversation_id)
