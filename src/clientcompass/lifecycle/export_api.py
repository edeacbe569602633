"""JSON: data exports, the same three as the pages (export_views.py) through the same
services, so the rules and the audit trail are the pages' own.

- The whole business, or one customer (`contact_id`): owners only. Asking queues the job
  and answers 202 with the export, to poll at `Location` until `status` is `ready`; then
  `download_url` is its signed link, good until `expires_at` (at most 24 hours), for an owner
  of the business, signed in or with an API token.
- A person's own account data (`kind: account`): anyone, for themselves. It is read as it is
  streamed, so there is nothing to wait for: asking answers 303 to `/api/v1/exports/account`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, model_validator

from clientcompass.lifecycle import export as service
from clientcompass.lifecycle import export_http
from clientcompass.models.base import utcnow
from clientcompass.models.exports import Export, ExportKind, ExportStatus
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.state import AppState

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

ACCOUNT_PATH = "/api/v1/exports/account"
DOWNLOAD_PATH = "/api/v1/exports/download"
JSON_OBJECT = {"application/json": {"schema": {"type": "object"}}}


class ExportRequestKind(StrEnum):
    BUSINESS = ExportKind.BUSINESS.value
    CUSTOMER = ExportKind.CUSTOMER.value
    ACCOUNT = "account"  # the caller's own data, streamed at once (no job, no row)


class ExportIn(BaseModel):
    kind: ExportRequestKind = Field(
        description="business (owners), customer (owners; with contact_id) or account "
        "(your own data)"
    )
    contact_id: uuid.UUID | None = Field(None, description="the customer; customer only")

    @model_validator(mode="after")
    def contact_only_for_a_customer(self) -> ExportIn:
        if self.kind is ExportRequestKind.CUSTOMER and self.contact_id is None:
            raise ValueError("A customer export needs the customer's contact_id.")
        if self.kind is not ExportRequestKind.CUSTOMER and self.contact_id is not None:
            raise ValueError("Only a customer export names a contact_id.")
        return self


class ExportProgress(BaseModel):
    stage: str = Field(description="what the job is copying: messages, files, done…")
    done: int
    total: int = Field(description="0 while not known")


class ExportOut(BaseModel):
    """An export of the business or of one customer, as the Data export page lists it."""

    id: uuid.UUID
    kind: ExportKind
    contact_id: uuid.UUID | None
    label: str
    status: ExportStatus
    progress: ExportProgress
    size: int | None = Field(description="bytes of the ZIP, once ready")
    error: str
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None = Field(description="when the ZIP and its link go")
    download_url: str | None = Field(description="the signed link, while ready")


def export_out(state: AppState, export: Export, now: datetime) -> ExportOut:
    url = None
    if service.is_downloadable(export, now):
        token = service.download_token(state.settings.secret_key, export, now)
        url = f"{state.settings.base_url}{DOWNLOAD_PATH}?token={token}"
    return ExportOut(
        id=export.id,
        kind=ExportKind(export.kind),
        contact_id=export.subject_id,
        label=service.subject_of(export),
        status=ExportStatus(export.status),
        progress=ExportProgress(stage=export.stage, done=export.done, total=export.total),
        size=export.size,
        error=export.error,
        created_at=export.created_at,
        finished_at=export.finished_at,
        expires_at=export.expires_at,
        download_url=url,
    )


@router.post(
    "",
    response_model=ExportOut,
    status_code=202,
    responses={303: {"description": "kind account: your data is at `Location`"}},
)
async def request_export(
    data: ExportIn, response: Response, state: State, principal: CurrentPrincipal
) -> ExportOut | Response:
    """Start an export. The business or a customer (owners only): queued, answered 202 with
    the export to poll at `Location`. Your own account data (anyone): answered 303 to it."""
    if data.kind is ExportRequestKind.ACCOUNT:
        return RedirectResponse(ACCOUNT_PATH, status_code=303)
    async with state.unit_of_work(principal.tenant_id) as uow:
        export = await service.start(uow, principal, contact_id=data.contact_id)
    response.headers["location"] = f"/api/v1/exports/{export.id}"
    return export_out(state, export, utcnow())


@router.get("", response_model=list[ExportOut])
async def list_exports(
    state: State, principal: CurrentPrincipal, limit: int = Query(10, ge=1, le=50)
) -> list[ExportOut]:
    """The business's exports, newest first (owners only)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        exports = await service.recent(uow, principal, limit)
    now = utcnow()
    return [export_out(state, export, now) for export in exports]


@router.get(
    "/account",
    response_class=Response,
    responses={200: {"description": "your data, one JSON document", "content": JSON_OBJECT}},
)
async def own_account_export(state: State, principal: CurrentPrincipal) -> Response:
    """Everything held about you (any role): profile, API tokens, push devices, preferences,
    your audit events, the notes you wrote and the messages you sent; no secret."""
    return await export_http.own_data_response(state, principal)


@router.get(
    "/download",
    response_class=Response,
    responses={200: {"description": "the export's ZIP", "content": {"application/zip": {}}}},
)
async def download_export(
    state: State,
    principal: CurrentPrincipal,
    token: Annotated[str, Query(max_length=200, description="from the export's download_url")],
) -> Response:
    """An export's ZIP (owners of its business), while its link is current."""
    return await export_http.download_response(state, principal, token)


@router.get("/{export_id:uuid}", response_model=ExportOut)
async def get_export(export_id: uuid.UUID, state: State, principal: CurrentPrincipal) -> ExportOut:
    """One export with its progress, and its download link once ready (owners only)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        export = await service.get(uow, principal, export_id)
    return export_out(state, export, utcnow())
