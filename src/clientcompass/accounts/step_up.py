"""Step-up ("sudo mode"): an action that destroys something first asks who is at the keyboard.

A session cookie proves only that someone has this browser: a phone left unlocked on a
counter, a shared office PC. Before an action that cannot be undone, the person confirms
their own password; the session then counts as *stepped up* for `STEP_UP_MINUTES`, so a
morning of tidying up asks once, not at every button (GitHub's "sudo mode").

- Pages: a form without the password renders "Confirm it's you" (403) with a password field
  that re-posts the same action with the same fields and the session's CSRF token. A wrong
  password re-shows it with the error (403). Nothing changes until the password is right.
- JSON: a cookie session inside the window passes; otherwise the caller sends its own
  password as `X-Confirm-Password` (the only way for an API token, which has no session) or
  first calls `POST /api/v1/me/step-up`. Refused: 403 `step_up_required` (none given) or
  `step_up_failed` (wrong), nothing changed.
- Every password tried here counts against the sign-in throttle (auth/throttle.py), by the
  same account and address as a sign-in: a stolen session cannot guess the password faster
  here than at /login. A wrong one is also written to the audit trail.
- A password that is given is always checked, even inside the window: a wrong one never
  passes because an earlier right one did.

Covered (each route declares `StepUp`; tests/security/test_step_up.py lists every DELETE and
every POST ending in /delete, /remove, /revoke, /erase or /close and fails on one that is
neither covered nor exempted): removing a member, revoking an API token (one's own or the
business's), revoking an invitation, deleting a contact, an outgoing webhook, a draft
document or a canned response. Erasing a customer and closing the business keep their own
password field (lifecycle/erasure_views.py, closure_views.py), checked by their services but
throttled and audited here all the same (`checked_by_the_service`); they honour the window
(`is_recent`), and a right password at an erasure opens it (`confirmed`).

Deliberately not covered, because each only takes access away or is undone in a click:
removing a label from a conversation, deleting a step of a flow's *draft* (the published
version is untouched), removing one's own push device (turned on again from that device),
signing devices out (the worst a thief can do is sign the owner out, who signs in again), and
merging two contacts (the duplicate's conversations, documents, leads and consent history all
move to the kept one, and the page asks "Merge?" first: nothing is destroyed).
Asking for a password there would train people to type it without reading.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from clientcompass.accounts import service as accounts
from clientcompass.audit import service as audit
from clientcompass.auth.principal import Principal
from clientcompass.auth.sessions import Session
from clientcompass.errors import Forbidden, InvalidInput
from clientcompass.models import AuditAction
from clientcompass.web.auth import CSRF_FIELD, CurrentPrincipal, State, client_ip
from clientcompass.web.errors import error_body, return_to, wants_json
from clientcompass.web.render import render
from clientcompass.web.state import AppState

STEP_UP_MINUTES = 10
"""How long a confirmed password covers further destructive actions in the same session.

Long enough to remove three members and a webhook without typing it four times (which
teaches people to type it without reading); short enough that a phone left unlocked a
quarter of an hour later asks again. GitHub's sudo mode uses a similar order (a few hours
there, for developers at their own desks; a shop counter is a shared place)."""
STEP_UP_SECONDS = STEP_UP_MINUTES * 60
PASSWORD_HEADER = "x-confirm-password"  # noqa: S105 (a header's name)
PASSWORD_FIELD = "password"  # noqa: S105 (a form field's name)

REQUIRED_MESSAGE = (
    "Confirm it's you: this can't be undone, so enter your password first. "
    "Over the API, send your own password in the X-Confirm-Password header."
)
WRONG_MESSAGE = "That is not your password. Nothing was changed."


class StepUpRequired(Forbidden):
    """The action needs a password confirmed in the last `STEP_UP_MINUTES`; none was given."""

    code = "step_up_required"

    def __init__(self, message: str = REQUIRED_MESSAGE, *, what: str = "") -> None:
        super().__init__(message, field=PASSWORD_FIELD)
        self.what = what
        # The form's other fields, sent again with the password (a page's action only).
        self.fields: dict[str, str] = {}


class StepUpFailed(StepUpRequired):
    """A password was given and it was wrong (still 403: the action is refused the same way)."""

    code = "step_up_failed"


def is_recent(session: Session | None, now: float | None = None) -> bool:
    """The session confirmed its password within the window (never for an API token)."""
    if session is None or session.stepped_up_at is None:
        return False
    elapsed = (time.time() if now is None else now) - session.stepped_up_at
    return 0 <= elapsed < STEP_UP_SECONDS


def _wrong_password(exc: BaseException) -> bool:
    """A refusal that means the password was wrong: ours (StepUpFailed), or a service's own
    check (erasure, closure) failing on the password field."""
    if isinstance(exc, StepUpFailed):
        return True
    return isinstance(exc, InvalidInput) and exc.field == PASSWORD_FIELD


@asynccontextmanager
async def throttled(
    state: AppState, principal: Principal, request: Request, *, audit_wrong: bool = False
) -> AsyncIterator[None]:
    """Count a password check against the sign-in throttle (TooManyAttempts, 429, once the
    account or address is at its limit); only a wrong password stays counted. `audit_wrong`:
    record a wrong one here (a service that checks the password itself doesn't)."""
    attempt = await state.throttle.reserve(principal.email, client_ip(request))
    try:
        yield
    except BaseException as exc:
        if not _wrong_password(exc):
            await state.throttle.succeeded(attempt)
        elif audit_wrong:
            await record_failure(state, principal, request)
        raise
    await state.throttle.succeeded(attempt)


@asynccontextmanager
async def checked_by_the_service(
    state: AppState, principal: Principal, request: Request, password: str
) -> AsyncIterator[None]:
    """Erasure and closure check the password inside their own transaction (a wrong one is
    their 422 on the password field): count it against the same throttle and audit it like
    every other step-up, so no route lets a stolen session guess faster than /login."""
    if not password:
        yield
        return
    async with throttled(state, principal, request, audit_wrong=True):
        yield


async def confirmed(state: AppState, principal: Principal) -> None:
    """The password was right: start (or restart) the session's window."""
    if principal.session is not None:
        await state.sessions.mark_stepped_up(principal.session)


async def record_failure(state: AppState, principal: Principal, request: Request) -> None:
    """A wrong password at a step-up, in its own transaction (the refusal changes nothing)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await audit.record(
            uow,
            AuditAction.STEP_UP_FAILED,
            actor_id=principal.user_id,
            target_kind="route",
            target_label=f"{request.method} {request.url.path}",
        )


async def check_password(
    state: AppState, principal: Principal, request: Request, password: str
) -> None:
    """Check the principal's own password (throttled, audited when wrong) and start the
    window; StepUpFailed when it is wrong."""
    async with throttled(state, principal, request):
        async with state.unit_of_work(principal.tenant_id) as uow:
            user = await accounts.get_user(uow, principal.user_id)
        try:
            await accounts.verify_current_password(user, password, field=PASSWORD_FIELD)
        except InvalidInput as exc:
            await record_failure(state, principal, request)
            raise StepUpFailed(WRONG_MESSAGE) from exc
    await confirmed(state, principal)


async def form_fields(request: Request) -> dict[str, str]:
    """A page's posted text fields (none for JSON or an empty body)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return {}
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


class StepUp:
    """A route's dependency: pass only a stepped-up session or a right password.

    Declare it after the principal (`principal: CurrentManager, confirmed: None = confirm(…)`)
    so a role that may not act at all is refused before being asked for a password."""

    def __init__(self, what: str) -> None:
        self.what = what  # a verb phrase for the page: "remove this member from the team"

    async def __call__(self, request: Request, state: State, principal: CurrentPrincipal) -> None:
        fields = {} if wants_json(request) else await form_fields(request)
        if wants_json(request):
            password = request.headers.get(PASSWORD_HEADER, "")
        else:
            password = fields.get(PASSWORD_FIELD, "")
        refusal: StepUpRequired
        if password:
            try:
                await check_password(state, principal, request, password[:1024])
                return
            except StepUpFailed as exc:
                refusal = exc
        elif is_recent(principal.session):
            return
        else:
            refusal = StepUpRequired()
        refusal.what = self.what
        refusal.fields = {k: v for k, v in fields.items() if k not in (CSRF_FIELD, PASSWORD_FIELD)}
        raise refusal


def confirm(what: str) -> Any:
    """A route parameter's default: `confirmed: None = confirm("delete this contact")`."""
    return Depends(StepUp(what))


async def step_up_refused(request: Request, exc: Exception) -> Response:
    """The exception handler (app.py): JSON under /api, the "Confirm it's you" page elsewhere."""
    assert isinstance(exc, StepUpRequired)
    if wants_json(request):
        return JSONResponse(error_body(exc.code, exc.message), exc.status_code)
    context = {
        "what": exc.what or "do this",
        "action": request.url.path,
        "fields": exc.fields,
        "minutes": STEP_UP_MINUTES,
        "back": return_to(request) or "/",
        "values": {},
        "errors": {PASSWORD_FIELD: exc.message} if isinstance(exc, StepUpFailed) else {},
    }
    return render(request, "auth/step_up.html", context, exc.status_code)


# -- the API's explicit step-up ---------------------------------------------------------------


class StepUpIn(BaseModel):
    password: str = Field(min_length=1, max_length=1024, description="your own password")


class StepUpOut(BaseModel):
    stepped_up_until: float = Field(description="Unix time the window ends")
    minutes: int = STEP_UP_MINUTES


async def step_up_session(
    request: Request, state: AppState, principal: Principal, password: str
) -> StepUpOut:
    """Confirm the password and open the window for this cookie session. An API token has no
    session to mark: it sends X-Confirm-Password with each destructive request instead."""
    if principal.session is None:
        raise InvalidInput(
            "An API token has no session to step up: send your password in the "
            "X-Confirm-Password header of the request that needs it."
        )
    await check_password(state, principal, request, password)
    return StepUpOut(stepped_up_until=time.time() + STEP_UP_SECONDS)
