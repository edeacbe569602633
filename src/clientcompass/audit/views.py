"""Settings → Audit trail: the owners' page, filterable by action, person and dates."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.audit import service
from clientcompass.audit.service import AuditFilter
from clientcompass.models import AuditAction
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.render import render

router = APIRouter(include_in_schema=False)


def _filters(query: dict[str, str]) -> tuple[AuditFilter, dict[str, str]]:
    """The page's filters from its query string; what can't be read is named, not guessed."""
    errors: dict[str, str] = {}
    action = person = since = until = None
    if query.get("action"):
        try:
            action = AuditAction(query["action"])
        except ValueError:
            errors["action"] = "Choose an action from the list."
    if query.get("user_id"):
        try:
            person = uuid.UUID(query["user_id"])
        except ValueError:
            errors["user_id"] = "Choose a person from the list."
    for name in ("since", "until"):
        if query.get(name):
            try:
                day = date.fromisoformat(query[name])
            except ValueError:
                errors[name] = "Enter a date like 2026-12-31."
                continue
            if name == "since":
                since = day
            else:
                until = day
    return AuditFilter(action, person, since, until), errors


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < len(value) < 6 else 1


@router.get("/settings/audit")
async def audit_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    service.require_owner(principal)
    query = dict(request.query_params)
    filters, errors = _filters(query)
    page = _page_number(query.get("page"))
    async with state.unit_of_work(principal.tenant_id) as uow:
        zone = await service.business_zone(uow)
        listing = await service.list_events(uow, principal, filters, page=page, zone=zone)
        people = await service.people(uow, principal)
    kept = {k: v for k, v in query.items() if k in ("action", "user_id", "since", "until") and v}

    def page_url(number: int) -> str:
        return "/settings/audit?" + urlencode({**kept, "page": number})

    context: dict[str, Any] = {
        "section": "audit",
        "listing": listing,
        "people": people,
        "actions": list(AuditAction),
        "values": kept,
        "errors": errors,
        "zone": zone,
        "page_url": page_url,
    }
    return render(request, "settings/audit.html", context, 422 if errors else 200)
