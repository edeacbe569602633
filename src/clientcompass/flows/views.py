"""Pages: the flow list, a new flow from a starter, and the step-by-step builder.

The builder is an ordered list of step cards, each showing what the customer will see; every
change is a plain form POST that edits a copy of the draft and saves it through the same
validation as the API. A refused change re-renders the page with the attempted draft and
each problem on the step it names, so nothing typed is lost.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.errors import InvalidInput
from clientcompass.flows import definition as d
from clientcompass.flows import forms, service
from clientcompass.flows import tasks as flow_tasks
from clientcompass.flows.starters import STARTERS
from clientcompass.flows.validate import Problem
from clientcompass.web.auth import CurrentManager, State
from clientcompass.web.render import form_dict, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/flows")
async def flow_list(request: Request, state: State, principal: CurrentManager) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        flows = await service.list_flows(uow, principal)
    return render(
        request,
        "flows/list.html",
        {"section": "flows", "flows": flows, "trigger_labels": d.TRIGGER_LABELS},
    )


@router.get("/flows/new")
async def new_flow(request: Request, principal: CurrentManager) -> Response:
    return _new_page(request, {}, {})


def _new_page(
    request: Request, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    return render(
        request,
        "flows/new.html",
        {
            "section": "flows",
            "starters": list(STARTERS.values()),
            "values": values,
            "errors": errors,
        },
        status,
    )


@router.post("/flows")
async def create_flow(request: Request, state: State, principal: CurrentManager) -> Response:
    values = await form_dict(request)
    starter = values.get("starter") or None
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            flow = await service.create_flow(
                uow, principal, values.get("name", ""), starter=starter
            )
    except InvalidInput as exc:
        return _new_page(request, values, {exc.field or "form": exc.message}, 422)
    return redirect(f"/flows/{flow.id}")


async def _builder(
    request: Request,
    state: State,
    principal: CurrentManager,
    flow_id: uuid.UUID,
    *,
    draft: dict[str, Any] | None = None,
    problems: list[Problem] | None = None,
    edit: str | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        flow = await service.get_flow(uow, principal, flow_id)
        versions = await service.list_versions(uow, principal, flow_id)
        members = await service.members(uow)
        shown = draft if draft is not None else flow.draft
        calls_webhook = any(
            isinstance(step, dict) and step.get("kind") == "webhook"
            for step in (shown.get("steps", []) if isinstance(shown, dict) else [])
        )
        secret = await flow_tasks.webhook_secret(uow, state.keyring) if calls_webhook else ""
    by_step: dict[str | None, list[str]] = defaultdict(list)
    for problem in problems or []:
        by_step[problem.step_id].append(problem.message)
    steps = shown.get("steps", []) if isinstance(shown, dict) else []
    known = {s.get("id") for s in steps}
    return render(
        request,
        "flows/builder.html",
        {
            "section": "flows",
            "flow": flow,
            "draft": shown,
            "steps": steps,
            "titles": {s.get("id"): s.get("title") or s.get("id") for s in steps},
            "numbers": {s.get("id"): i + 1 for i, s in enumerate(steps)},
            "problems": by_step,
            "orphan_problems": [p for p in problems or [] if p.step_id not in known],
            "problem_count": len(problems or []),
            "edit": edit if edit is not None else request.query_params.get("edit"),
            "versions": versions,
            "members": members,
            "saved": request.query_params.get("saved", ""),
            "d": d,
            "sandbox_enabled": state.settings.sandbox_enabled,
            "webhook_secret": secret,
        },
        status,
    )


@router.get("/flows/{flow_id:uuid}")
async def builder(
    flow_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    return await _builder(request, state, principal, flow_id)


async def _save(
    request: Request,
    state: State,
    principal: CurrentManager,
    flow_id: uuid.UUID,
    draft: dict[str, Any],
    *,
    name: str | None = None,
    edit: str | None = None,
    anchor: str = "",
) -> Response:
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            await service.save_draft(uow, principal, flow_id, draft, name=name)
    except service.FlowInvalid as exc:
        return await _builder(
            request,
            state,
            principal,
            flow_id,
            draft=draft,
            problems=exc.problems,
            edit=edit,
            status=422,
        )
    except InvalidInput as exc:
        problem = Problem(exc.message)
        return await _builder(
            request, state, principal, flow_id, draft=draft, problems=[problem], status=422
        )
    return redirect(f"/flows/{flow_id}?saved=1{anchor}")


async def _draft(state: State, principal: CurrentManager, flow_id: uuid.UUID) -> dict[str, Any]:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return (await service.get_flow(uow, principal, flow_id)).draft


@router.post("/flows/{flow_id:uuid}/settings")
async def save_settings(
    flow_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    values = await form_dict(request)
    draft = forms.set_trigger(await _draft(state, principal, flow_id), values)
    return await _save(request, state, principal, flow_id, draft, name=values.get("name", ""))


@router.post("/flows/{flow_id:uuid}/steps")
async def add_step(
    flow_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    values = await form_dict(request)
    kind = values.get("kind", "")
    if kind not in d.STEP_LABELS:
        raise InvalidInput("Choose what the new step does.", field="kind")
    draft, added = forms.add_step(
        await _draft(state, principal, flow_id), kind, values.get("after")
    )
    return await _save(
        request, state, principal, flow_id, draft, edit=added, anchor=f"&edit={added}#step-{added}"
    )


# The step is named in the form, not the path: a step id is no object of its own (the wall is
# the flow's), and the cross-tenant sweep walks path ids.
@router.post("/flows/{flow_id:uuid}/steps/edit")
async def edit_step(
    flow_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    values = await form_dict(request)
    step_id = values.get("step_id", "")
    draft = forms.replace_step(await _draft(state, principal, flow_id), step_id, values)
    return await _save(
        request, state, principal, flow_id, draft, edit=step_id, anchor=f"#step-{step_id}"
    )


@router.post("/flows/{flow_id:uuid}/steps/move")
async def move_step(
    flow_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    values = await form_dict(request)
    step_id = values.get("step_id", "")
    by = -1 if values.get("direction") == "up" else 1
    draft = forms.move_step(await _draft(state, principal, flow_id), step_id, by)
    return await _save(request, state, principal, flow_id, draft, anchor=f"#step-{step_id}")


@router.post("/flows/{flow_id:uuid}/steps/delete")
async def delete_step(
    flow_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    values = await form_dict(request)
    draft = forms.delete_step(await _draft(state, principal, flow_id), values.get("step_id", ""))
    return await _save(request, state, principal, flow_id, draft)


@router.post("/flows/{flow_id:uuid}/publish")
async def publish(
    flow_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            version = await service.publish(uow, principal, flow_id)
    except service.FlowInvalid as exc:
        return await _builder(request, state, principal, flow_id, problems=exc.problems, status=422)
    return redirect(f"/flows/{flow_id}?saved=v{version.number}#versions")
