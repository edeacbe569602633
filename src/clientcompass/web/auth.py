"""Who is calling: a session cookie (browsers) or a personal API token (the JSON API).

Cookie-authenticated requests that change state must carry the CSRF token, as the
`X-CSRF-Token` header (htmx sends it on every request) or a `csrf_token` form field.
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from clientcompass.auth import tokens
from clientcompass.auth.principal import AuthMethod, Principal
from clientcompass.auth.sessions import Session
from clientcompass.db import UnitOfWork
from clientcompass.errors import Forbidden, NotAuthenticated
from clientcompass.models import Tenant, User
from clientcompass.web.state import AppState, app_state_dependency

SESSION_COOKIE = "cc_session"
CSRF_COOKIE = "cc_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(Forbidden):
    code = "csrf_failed"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def anonymous_csrf_token(request: Request) -> str:
    """The double-submit token for forms shown before sign-in (login, sign-up, reset)."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if token is None:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = token
    return token


def csrf_token_for(request: Request) -> str:
    session: Session | None = getattr(request.state, "session", None)
    return session.csrf_token if session else anonymous_csrf_token(request)


async def _submitted_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form: FormData = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def check_csrf(request: Request, expected: str) -> None:
    if request.method in SAFE_METHODS:
        return
    submitted = await _submitted_csrf(request)
    if not expected or not hmac.compare_digest(submitted.encode(), expected.encode()):
        raise CsrfFailed(
            "This form has expired or was not sent from Client Compass. Reload the page and try again."
        )


async def load_session(request: Request, state: AppState) -> Session | None:
    """The live session the cookie names, sliding its expiry; re-sign a stale JWT."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    claims = state.sessions.read_jwt(token, verify_exp=False)
    if claims is None:
        return None
    session = await state.sessions.touch(claims["sid"])
    if session is None or str(session.user_id) != claims["sub"]:
        return None
    if int(claims["exp"]) - time.time() < state.settings.jwt_lifetime_seconds / 2:
        request.state.reissued_jwt = state.sessions.issue_jwt(session)
    return session


CLOSED_MESSAGE = (
    "This business account is closed. An owner can reopen it with the link emailed when it "
    "was closed."
)


async def _tenant_open(uow: UnitOfWork, tenant_id: uuid.UUID) -> bool:
    """A closed business (lifecycle/closure.py) has no principals: access ends at once."""
    tenant = await uow.session.get(Tenant, tenant_id)
    return tenant is not None and tenant.closed_at is None


async def resolve_principal(request: Request, state: AppState) -> Principal | None:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    authorization = request.headers.get("authorization", "")
    principal: Principal | None = None
    if authorization.lower().startswith("bearer "):
        async with state.unit_of_work() as uow:
            user = await tokens.resolve_api_token(uow, authorization[7:].strip())
            if user is None:
                raise NotAuthenticated("That API token is not valid. Create a new one in Settings.")
            if not await _tenant_open(uow, user.tenant_id):
                raise NotAuthenticated(CLOSED_MESSAGE)
            principal = Principal.of_user(user, AuthMethod.API_TOKEN)
    else:
        session = await load_session(request, state)
        if session is not None:
            async with state.unit_of_work(session.tenant_id) as uow:
                user = await uow.session.get(User, (session.tenant_id, session.user_id))
                if user is not None and not await _tenant_open(uow, session.tenant_id):
                    user = None
            if user is not None and user.is_active:
                request.state.session = session
                principal = Principal.of_user(user, AuthMethod.SESSION, session)
            else:
                await state.sessions.delete(session)
    request.state.principal = principal
    return principal


async def optional_principal(
    request: Request, state: Annotated[AppState, Depends(app_state_dependency)]
) -> Principal | None:
    principal = await resolve_principal(request, state)
    if principal is None:
        await check_csrf(request, request.cookies.get(CSRF_COOKIE, ""))
    elif principal.session is not None:
        await check_csrf(request, principal.session.csrf_token)
    return principal


class SignedOut(NotAuthenticated):
    """A change sent after the session ended (expired, or signed out elsewhere): not a forgery.

    Told apart from a CSRF failure so the person is sent to sign in and back, with what they
    typed kept (static/app.js keeps drafts), instead of "This form has expired"."""

    code = "signed_out"


SIGNED_OUT_MESSAGE = (
    "You were signed out, so that was not saved. Sign in again to carry on: "
    "what you typed is kept on this device."
)


async def current_principal(
    request: Request, state: Annotated[AppState, Depends(app_state_dependency)]
) -> Principal:
    """The signed-in caller; its session's CSRF token is checked on every change.

    Without a session there is nothing a forged request could act as, so a change that
    arrives signed out is answered "signed out", never as a CSRF failure."""
    principal = await resolve_principal(request, state)
    if principal is None:
        if request.method in SAFE_METHODS:
            raise NotAuthenticated("Please sign in to continue.")
        raise SignedOut(SIGNED_OUT_MESSAGE)
    if principal.session is not None:
        await check_csrf(request, principal.session.csrf_token)
    return principal


async def current_manager(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    principal.require_manager()
    return principal


def set_session_cookie(response: Response, state: AppState, jwt_token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        jwt_token,
        max_age=state.settings.session_absolute_seconds,
        httponly=True,
        samesite="lax",
        secure=state.settings.cookies_secure,
        path="/",
    )


def clear_session_cookie(response: Response, state: AppState) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        httponly=True,
        samesite="lax",
        secure=state.settings.cookies_secure,
        path="/",
    )


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentManager = Annotated[Principal, Depends(current_manager)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
State = Annotated[AppState, Depends(app_state_dependency)]
