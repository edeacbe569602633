"""The integrations settings page: outgoing webhooks (add, see the secret once, send a test,
pause, rotate, delete) and the delivery log. Owners and admins only; plain forms with the
session's CSRF token, so it works without script on a phone."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.accounts.step_up import confirm
from clientcompass.errors import DomainError
from clientcompass.integrations import service
from clientcompass.integrations.events import LABELS, WebhookEvent
from clientcompass.web.auth import CurrentManager, State
from clientcompass.web.forms import clean_value, domain_error_fields
from clientcompass.web.render import redirect, render

router = APIRouter(include_in_schema=False)

PAGE = "/settings/integrations"
ITEM = PAGE + "/webhooks/{webhook_id:uuid}"


async def _page(
    request: Request,
    state: State,
    principal: CurrentManager,
    *,
    values: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    new_secret: str = "",
    new_secret_for: uuid.UUID | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        subscriptions = await service.list_all(uow, principal)
        log = await service.deliveries(uow, principal)
    names = {s.id: s.description or s.url for s in subscriptions}
    return render(
        request,
        "settings/integrations.html",
        {
            "section": "integrations",
            "subscriptions": subscriptions,
            "deliveries": log,
            "names": names,
            "event_choices": [(e.value, LABELS[e]) for e in WebhookEvent],
            "values": values or {"events": [e.value for e in WebhookEvent]},
            "errors": errors or {},
            "new_secret": new_secret,
            "new_secret_for": new_secret_for,
            "saved": request.query_params.get("saved", ""),
            "allow_http": state.settings.webhook_allow_private_targets,
        },
        status,
    )


@router.get(PAGE)
async def integrations_page(request: Request, state: State, principal: CurrentManager) -> Response:
    return await _page(request, state, principal)


@router.post(PAGE + "/webhooks")
async def add_webhook(request: Request, state: State, principal: CurrentManager) -> Response:
    form = await request.form()
    url = str(clean_value(str(form.get("url") or ""))).strip()
    description = str(clean_value(str(form.get("description") or ""))).strip()
    chosen = [str(v) for v in form.getlist("events") if isinstance(v, str)]
    values: dict[str, object] = {"url": url, "description": description, "events": chosen}
    errors: dict[str, str] = {}
    if not url:
        errors["url"] = "Enter the URL to send events to."
    elif len(description) > 200:
        errors["description"] = "Keep the name under 200 characters."
    if not errors:
        try:
            async with state.unit_of_work(principal.tenant_id) as uow:
                made = await service.create(
                    uow,
                    principal,
                    state.keyring,
                    url=url,
                    chosen=chosen,
                    description=description,
                    allow_private=state.settings.webhook_allow_private_targets,
                )
            return await _page(
                request,
                state,
                principal,
                new_secret=made.secret,
                new_secret_for=made.subscription.id,
                status=201,
            )
        except DomainError as exc:
            errors = domain_error_fields(exc)
    return await _page(request, state, principal, values=values, errors=errors, status=422)


@router.post(ITEM + "/test")
async def test_webhook(webhook_id: uuid.UUID, state: State, principal: CurrentManager) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.send_test(uow, principal, webhook_id)
    return redirect(f"{PAGE}?saved=test#log")


@router.post(ITEM + "/pause")
async def pause_webhook(webhook_id: uuid.UUID, state: State, principal: CurrentManager) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.set_active(uow, principal, webhook_id, False)
    return redirect(f"{PAGE}?saved=paused")


@router.post(ITEM + "/resume")
async def resume_webhook(
    webhook_id: uuid.UUID, state: State, principal: CurrentManager
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.set_active(uow, principal, webhook_id, True)
    return redirect(f"{PAGE}?saved=resumed")


@router.post(ITEM + "/rotate")
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        secret = await service.rotate_secret(uow, principal, state.keyring, webhook_id)
    return await _page(request, state, principal, new_secret=secret, new_secret_for=webhook_id)


@router.post(ITEM + "/delete")
async def delete_webhook(
    webhook_id: uuid.UUID,
    state: State,
    principal: CurrentManager,
    confirmed: None = confirm("delete this webhook"),
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.remove(uow, principal, webhook_id)
    return redirect(f"{PAGE}?saved=deleted")
