"""JSON: the audit trail, for owners (the same service as the page)."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from clientcompass.audit import service
from clientcompass.audit.schemas import AuditEventOut, AuditPageOut
from clientcompass.audit.service import AuditFilter
from clientcompass.models import AuditAction
from clientcompass.web.auth import CurrentPrincipal, State

router = APIRouter(prefix="/api/v1", tags=["audit"])


def _iso_day(value: object) -> object:
    """Only YYYY-MM-DD: pydantic alone would read "0" as a Unix time."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("Enter a date like 2026-12-31.")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day)]


@router.get("/audit-events", response_model=AuditPageOut)
async def list_audit_events(
    state: State,
    principal: CurrentPrincipal,
    action: AuditAction | None = None,
    user_id: uuid.UUID | None = None,
    since: IsoDay | None = None,
    until: IsoDay | None = None,
    page: int = Query(1, ge=1, le=100_000),
) -> AuditPageOut:
    """The business's audit trail, newest first, 50 a page (owners only). `since` and
    `until` are whole days in the business's time zone; `user_id` is who acted."""
    service.require_owner(principal)
    async with state.unit_of_work(principal.tenant_id) as uow:
        zone = await service.business_zone(uow)
        listing = await service.list_events(
            uow, principal, AuditFilter(action, user_id, since, until), page=page, zone=zone
        )
    return AuditPageOut(
        events=[AuditEventOut.of(row) for row in listing.rows],
        page=listing.page,
        has_next=listing.has_next,
    )
