"""The privacy policy page, and the notice a signed-in person sees once after it changes.

App pages hold a placeholder that htmx fills from `/privacy/notice` unless the `cc_policy`
cookie says this person on this browser is known to have seen the current version, so the
check costs a request only until the person is found up to date (or says "I've read it").
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import NotAuthenticated
from clientcompass.models import User
from clientcompass.policy import policy
from clientcompass.web.auth import CurrentPrincipal, OptionalPrincipal, State
from clientcompass.web.render import form_dict, redirect, render, safe_next

router = APIRouter(include_in_schema=False)

POLICY_COOKIE = "cc_policy"
YEAR_SECONDS = 365 * 24 * 3600


def seen_marker(principal: Principal) -> str:
    """The cookie value meaning "this person has seen the current version" (not a secret:
    forging it only hides one's own notice)."""
    return f"{principal.user_id}.{policy.CURRENT_VERSION}"


def _remember_seen(response: Response, state: State, principal: Principal) -> Response:
    response.set_cookie(
        POLICY_COOKIE,
        seen_marker(principal),
        max_age=YEAR_SECONDS,
        httponly=True,
        samesite="lax",
        secure=state.settings.cookies_secure,
        path="/",
    )
    return response


async def _user(uow: UnitOfWork, principal: Principal) -> User:
    user = await uow.session.get(User, (principal.tenant_id, principal.user_id))
    if user is None:  # removed between sign-in and now
        raise NotAuthenticated("Please sign in to continue.")
    return user


@router.get("/privacy")
async def privacy(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    return render(
        request,
        "privacy.html",
        {
            "policy_html": policy.render_html(state.settings),
            "version": policy.CURRENT_VERSION,
        },
    )


@router.get("/privacy/notice")
async def notice(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """The notice when this person has not seen the current version; empty otherwise."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        user = await _user(uow, principal)
        outdated = policy.is_outdated(user)
    if outdated:
        page = urlsplit(request.headers.get("hx-current-url", ""))
        back = safe_next(page.path + (f"?{page.query}" if page.query else ""))
        return render(request, "partials/policy_notice.html", {"next": back})
    return _remember_seen(Response(status_code=200), state, principal)


@router.post("/privacy/read")
async def mark_read(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """ "I've read it": record the current version, then hide the notice (htmx) or go back."""
    values = await form_dict(request)
    async with state.unit_of_work(principal.tenant_id) as uow:
        user = await _user(uow, principal)
        policy.record_acceptance(user, uow.now)
    if request.headers.get("hx-request"):
        return _remember_seen(Response(status_code=200), state, principal)
    return _remember_seen(redirect(safe_next(values.get("next"))), state, principal)
