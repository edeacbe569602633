"""JSON API for WhatsApp templates: every member may list them and prepare one for sending;
creating, submitting and syncing them is for owners and admins."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from clientcompass.models import TemplateStatus
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State
from clientcompass.web.errors import error_body
from clientcompass.whatsapp import template_rules, templates
from clientcompass.whatsapp.http import template_out
from clientcompass.whatsapp.schemas import (
    PreparedTemplate,
    SendValuesIn,
    SyncReportOut,
    TemplateIn,
    TemplateOut,
)

router = APIRouter(prefix="/api/v1", tags=["templates"])


def draft_from(data: TemplateIn) -> template_rules.TemplateDraft:
    return template_rules.TemplateDraft(
        channel_id=data.channel_id,
        name=data.name,
        language=data.language,
        category=data.category.value,
        kind=data.kind.value,
        body=data.body,
        variables=data.variables,
        buttons=[
            template_rules.Button(title=b.title, type=b.type, url=b.url, phone=b.phone, id=b.id)
            for b in data.actions
        ],
        media_url=data.media_url,
    )


@router.get("/templates", response_model=list[TemplateOut])
async def list_templates(
    state: State,
    principal: CurrentPrincipal,
    status: TemplateStatus | None = Query(None, description="e.g. approved, for the composer"),
    channel_id: uuid.UUID | None = Query(None),
) -> list[TemplateOut]:
    async with state.unit_of_work(principal.tenant_id) as uow:
        found = await templates.list_templates(uow, status=status, channel_id=channel_id)
        return [template_out(template) for template in found]


@router.post(
    "/templates",
    response_model=TemplateOut,
    status_code=201,
    responses={422: {"description": "every problem, by field, under error.fields"}},
)
async def create_template(
    data: TemplateIn, state: State, principal: CurrentManager
) -> TemplateOut | JSONResponse:
    """Store a draft checked against WhatsApp's rules; submit it to start the review."""
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            template = await templates.create(uow, principal, draft_from(data))
            return template_out(template)
    except template_rules.TemplateInvalid as exc:
        return JSONResponse(error_body(exc.code, exc.message, exc.fields), exc.status_code)


@router.get("/templates/{template_id:uuid}", response_model=TemplateOut)
async def get_template(
    template_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> TemplateOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return template_out(await templates.get_template(uow, template_id))


@router.post("/templates/{template_id}/submit", response_model=TemplateOut)
async def submit_template(
    template_id: uuid.UUID, state: State, principal: CurrentManager
) -> TemplateOut:
    """Create the template in Twilio's Content API and request WhatsApp approval (→ pending)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        submission = await templates.submit(
            uow, principal, state.keyring, state.twilio, template_id
        )
        result = template_out(submission.template)
    if submission.problem is not None:
        raise submission.problem  # after the commit: the content SID is kept for a retry
    return result


@router.post("/templates/{template_id}/sync", response_model=TemplateOut)
async def sync_template(
    template_id: uuid.UUID, state: State, principal: CurrentManager
) -> TemplateOut:
    """Fetch the WhatsApp approval status now instead of waiting for the 5-minute job."""
    template = await templates.sync(
        state.unit_of_work, principal, state.keyring, state.twilio, template_id
    )
    return template_out(template)


@router.post("/templates/sync", response_model=SyncReportOut)
async def sync_all_templates(state: State, principal: CurrentManager) -> SyncReportOut:
    """Sync every submitted template; those Twilio could not answer for are listed in `failed`."""
    report = await templates.sync_all(state.unit_of_work, principal, state.keyring, state.twilio)
    return SyncReportOut(
        templates=[template_out(template) for template in report.synced], failed=report.failed
    )


@router.post("/templates/{template_id}/preview", response_model=PreparedTemplate)
async def prepare_send(
    template_id: uuid.UUID, data: SendValuesIn, state: State, principal: CurrentPrincipal
) -> PreparedTemplate:
    """The filled text and the `template` object to post to /conversations/{id}/messages;
    refused (422) when the template is not approved or a value is missing."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        outgoing = await templates.outgoing_for(uow, template_id, data.variables)
    return PreparedTemplate(
        content_sid=outgoing.content_sid,
        variables=outgoing.content_variables or {},
        preview=outgoing.preview_text,
    )
