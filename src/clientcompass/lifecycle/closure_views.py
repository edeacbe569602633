"""Closing the business account (owners, with the password) and reopening it with the emailed
link, as pages and as JSON. The rules are in lifecycle/closure.py.

Closing takes the owner's password, which a session that confirmed it in the last minutes
may leave out (accounts/step_up.py). Closing ends every member's sessions in Redis once the closure commits; the tenant check in
web/auth.py refuses them (and every API token) from the very next request anyway. The
reopen routes need no sign-in (nobody of a closed business can sign in): the signed link is
the authority. The page's form is a double-submit CSRF form like sign-in's.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from clientcompass.accounts import step_up
from clientcompass.errors import DomainError, Forbidden, InvalidInput
from clientcompass.lifecycle import closure
from clientcompass.models import Role
from clientcompass.web.auth import (
    CurrentPrincipal,
    OptionalPrincipal,
    State,
    clear_session_cookie,
)
from clientcompass.web.forms import domain_error_fields
from clientcompass.web.render import HOME_TIME_ZONE, form_dict, render
from clientcompass.web.state import app_state

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1/business", tags=["business"])

PASSWORD_MISSING = "Enter your password to close the business account."  # noqa: S105


class CloseRequest(BaseModel):
    password: str = Field(
        "",
        max_length=1024,
        description=(
            "your own password (step-up); may be left out by a session stepped up in the last "
            "minutes (POST /api/v1/me/step-up), or sent as X-Confirm-Password instead"
        ),
    )


class ReopenRequest(BaseModel):
    token: str = Field(min_length=1, max_length=200)


class ClosureOut(BaseModel):
    closed_at: datetime | None
    reopen_until: datetime | None


def _day(at: datetime) -> str:
    return at.astimezone(ZoneInfo(HOME_TIME_ZONE)).strftime("%d %B %Y")


async def _close(
    request: Request, state: State, principal: CurrentPrincipal, password: str
) -> closure.Closed:
    async with (
        step_up.checked_by_the_service(state, principal, request, password),
        state.unit_of_work(principal.tenant_id) as uow,
    ):
        closed = await closure.close_business(
            uow, principal, password=password, stepped_up=step_up.is_recent(principal.session)
        )
        closure.defer_closure_emails(uow, closed, state.settings)
    for member_id in closed.member_ids:
        await state.sessions.delete_all(principal.tenant_id, member_id)
    return closed


def _page(request: Request, errors: dict[str, str], status: int) -> Response:
    principal = getattr(request.state, "principal", None)
    return render(
        request,
        "lifecycle/closure.html",
        {
            "errors": errors,
            "values": {},
            "section": "business",
            "grace_days": closure.GRACE_DAYS,
            "stepped_up": step_up.is_recent(principal.session if principal else None),
            "document_years": closure.DOCUMENT_RETENTION_YEARS,
            "conversation_years": app_state(request).settings.closed_conversations_retention_years,
        },
        status,
    )


@router.get("/settings/close")
async def close_form(request: Request, principal: CurrentPrincipal) -> Response:
    return _page(request, {}, 200)


@router.post("/settings/close")
async def close(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    values = await form_dict(request)
    try:
        if principal.role is not Role.OWNER:
            raise Forbidden(closure.ONLY_OWNER)
        if not values.get("password") and not step_up.is_recent(principal.session):
            raise InvalidInput(PASSWORD_MISSING, field="password")
        closed = await _close(request, state, principal, values.get("password", ""))
    except DomainError as exc:
        return _page(request, domain_error_fields(exc), exc.status_code)
    assert closed.tenant.closed_at is not None
    request.state.principal = None
    response = render(
        request,
        "lifecycle/closure_done.html",
        {
            "business": closed.tenant.name,
            "until": _day(closure.reopen_deadline(closed.tenant.closed_at)),
            "grace_days": closure.GRACE_DAYS,
        },
    )
    clear_session_cookie(response, state)
    return response


@router.get(closure.REOPEN_PATH)
async def reopen_form(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    token = request.query_params.get("token", "")
    context: dict[str, object] = {"token": token, "errors": {}, "done": False}
    try:
        async with state.unit_of_work() as uow:
            tenant = await closure.open_reopen_link(uow, state.settings.secret_key, token)
            assert tenant.closed_at is not None
            context.update(
                business=tenant.name, until=_day(closure.reopen_deadline(tenant.closed_at))
            )
    except DomainError as exc:
        context["errors"] = domain_error_fields(exc)
        return render(request, "lifecycle/closure_reopen.html", context, exc.status_code)
    return render(request, "lifecycle/closure_reopen.html", context)


@router.post(closure.REOPEN_PATH)
async def reopen(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    token = (await form_dict(request)).get("token", "")
    try:
        async with state.unit_of_work() as uow:
            tenant = await closure.reopen_business(uow, state.settings.secret_key, token)
            name = tenant.name
    except DomainError as exc:
        return render(
            request,
            "lifecycle/closure_reopen.html",
            {"token": "", "errors": domain_error_fields(exc), "done": False},
            exc.status_code,
        )
    return render(
        request,
        "lifecycle/closure_reopen.html",
        {"token": "", "errors": {}, "done": True, "business": name},
    )


@api.post("/close", response_model=ClosureOut, status_code=202)
async def close_api(
    data: CloseRequest,
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    x_confirm_password: str = Header("", include_in_schema=False, max_length=1024),
) -> ClosureOut:
    """Close the business account (owners only; step-up: your password). Every session and API
    token of the business is refused from the next request; the owners get an email with a
    link that reopens it within the grace period (30 days)."""
    closed = await _close(request, state, principal, data.password or x_confirm_password)
    closed_at = closed.tenant.closed_at
    assert closed_at is not None
    return ClosureOut(closed_at=closed_at, reopen_until=closure.reopen_deadline(closed_at))


@api.post("/reopen", response_model=ClosureOut)
async def reopen_api(data: ReopenRequest, state: State) -> ClosureOut:
    """Reopen a closed business with the link's token (no sign-in: nobody of a closed business
    can sign in). 410 for a forged, used or expired link."""
    async with state.unit_of_work() as uow:
        await closure.reopen_business(uow, state.settings.secret_key, data.token)
    return ClosureOut(closed_at=None, reopen_until=None)
