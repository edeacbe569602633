"""Settings → Data export (owners), a customer's export from the contact page, the signed
download, and every person's own account data (Settings → My account).

The download needs both the signed link (24 hours, HMAC, links.py) and a signed-in owner of
the business the link names: the emailed link alone opens nothing, and a link of another
business is answered 404, like anything of another business.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.auth.principal import Principal
from clientcompass.lifecycle import export as service
from clientcompass.lifecycle import export_http
from clientcompass.models.base import utcnow
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.render import HOME_TIME_ZONE, redirect, render
from clientcompass.web.state import AppState

router = APIRouter(include_in_schema=False)

PAGE = "/settings/export"


def _when(at: datetime | None) -> str:
    return at.astimezone(ZoneInfo(HOME_TIME_ZONE)).strftime("%Y-%m-%d %H:%M") if at else ""


async def _context(state: AppState, principal: Principal) -> dict[str, Any]:
    async with state.unit_of_work(principal.tenant_id) as uow:
        exports = await service.recent(uow, principal)
    now = utcnow()
    secret = state.settings.secret_key
    rows = []
    for export in exports:
        ready = service.is_downloadable(export, now)
        rows.append(
            {
                "export": export,
                "ready": ready,
                "url": service.download_path(service.download_token(secret, export, now))
                if ready
                else "",
                "created": _when(export.created_at),
                "expires": _when(export.expires_at),
                "label": service.subject_of(export),
            }
        )
    running = any(e.status in ("queued", "running") for e in exports)
    return {"section": "export", "rows": rows, "running": running}


@router.get(PAGE)
async def export_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    service.require_owner(principal)
    context = await _context(state, principal)
    context["started"] = request.query_params.get("started") == "1"
    return render(request, "lifecycle/export.html", context)


@router.get(PAGE + "/status")
async def export_status(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """The list of exports with their progress; htmx polls it while one is running."""
    service.require_owner(principal)
    return render(request, "lifecycle/export_status.html", await _context(state, principal))


@router.post(PAGE)
async def start_business_export(state: State, principal: CurrentPrincipal) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.start(uow, principal)
    return redirect(PAGE + "?started=1")


@router.post("/contacts/{contact_id}/export")
async def start_customer_export(
    contact_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.start(uow, principal, contact_id=contact_id)
    return redirect(PAGE + "?started=1")


@router.get("/exports/download")
async def download(token: str, state: State, principal: CurrentPrincipal) -> Response:
    return await export_http.download_response(state, principal, token)


@router.get("/settings/account/export")
async def own_account_export(state: State, principal: CurrentPrincipal) -> Response:
    """Everything held about the signed-in person, as one JSON document (any role)."""
    return await export_http.own_data_response(state, principal)
