"""Unsubscribing from an email without signing in: the link in every notification email and
RFC 8058's one-click POST that mail clients send from their own "Unsubscribe" button.

The token is `links.sign` (HMAC with the app's secret) over the tenant and the person, with
the kind in its purpose, so it stops one kind of email for one person of one business and
cannot be altered to name another. It does not expire: an old email's link still works.

No CSRF token here, on purpose: a mail client's one-click POST carries no cookie and no form
token, and the signed token in the path is the protection (RFC 8058 §4). These routes take
no session dependency, which is where the app checks CSRF (web/auth.py), so the exemption is
exactly this path. GET never changes anything (link scanners fetch every URL in an email).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass import links
from clientcompass.db import UnitOfWork
from clientcompass.models import BusinessProfile, Tenant, User
from clientcompass.notifications import preferences
from clientcompass.notifications.kinds import CHANNELS, LABELS, Channel, Kind
from clientcompass.web.auth import State
from clientcompass.web.state import AppState

router = APIRouter(include_in_schema=False)

PATH = "/notifications/unsubscribe/{token}"
PURPOSE = "unsubscribe-email:"
NO_EXPIRY = 100 * 365 * 24 * 3600  # links.sign needs a lifetime: a century is "never"
NOT_FOUND = (
    "This unsubscribe link is not valid. Open Settings → Notifications in Client Compass "
    "to choose which emails you get."
)
NO_INDEX = {"x-robots-tag": "noindex, nofollow", "referrer-policy": "no-referrer"}


@dataclass(frozen=True)
class Grant:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    kind: Kind


def token_for(secret: str, tenant_id: uuid.UUID, user_id: uuid.UUID, kind: Kind) -> str:
    """`<kind>.<signed tenant and person>`: the kind is readable, and signed via the purpose."""
    signed = links.sign(secret, PURPOSE + kind.value, tenant_id, user_id, lifetime=NO_EXPIRY)
    return f"{kind.value}.{signed}"


def read_token(secret: str, token: str) -> Grant | None:
    """What a token stops, or None when forged, altered or malformed."""
    kind_value, _, signed = token.partition(".")
    try:
        kind = Kind(kind_value)
    except ValueError:
        return None
    if Channel.EMAIL not in CHANNELS[kind]:
        return None
    granted = links.read(secret, PURPOSE + kind.value, signed)
    if granted is None:
        return None
    return Grant(tenant_id=granted[0], user_id=granted[1], kind=kind)


def unsubscribe_url(base_url: str, token: str) -> str:
    return base_url.rstrip("/") + PATH.format(token=token)


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 2369 + RFC 8058: the link, and that a POST to it unsubscribes in one click."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


async def _whom(uow: UnitOfWork, grant: Grant) -> dict[str, Any] | None:
    """The person and business the token names, in the token's tenant (RLS holds it there)."""
    user = await uow.session.get(User, (grant.tenant_id, grant.user_id))
    if user is None or user.removed_at is not None:
        return None
    profile = await uow.session.get(BusinessProfile, grant.tenant_id)
    tenant = await uow.session.get(Tenant, grant.tenant_id)
    business = (profile.trading_name if profile else "") or (tenant.name if tenant else "")
    return {"email": user.email, "business": business, "label": LABELS[grant.kind]}


def _page(
    request: Request, state: AppState, context: dict[str, Any], status: int = 200
) -> Response:
    return state.templates.TemplateResponse(
        request,
        "notifications/unsubscribe.html",
        {"errors": {}, **context},
        status_code=status,
        headers=NO_INDEX,
    )


def _not_found(request: Request, state: AppState) -> Response:
    return _page(request, state, {"step": "invalid", "message": NOT_FOUND}, 404)


@router.get(PATH)
async def confirm(request: Request, token: str, state: State) -> Response:
    grant = read_token(state.settings.secret_key, token)
    if grant is None:
        return _not_found(request, state)
    async with state.unit_of_work(grant.tenant_id) as uow:
        whom = await _whom(uow, grant)
    if whom is None:
        return _not_found(request, state)
    return _page(request, state, {"step": "confirm", "token": token, **whom})


@router.post(PATH)
async def unsubscribe(request: Request, token: str, state: State) -> Response:
    """The page's button and a mail client's one-click POST (`List-Unsubscribe=One-Click`)."""
    grant = read_token(state.settings.secret_key, token)
    if grant is None:
        return _not_found(request, state)
    async with state.unit_of_work(grant.tenant_id) as uow:
        whom = await _whom(uow, grant)
        if whom is not None:
            await preferences.turn_off(uow, grant.user_id, grant.kind, Channel.EMAIL)
    if whom is None:
        return _not_found(request, state)
    return _page(request, state, {"step": "done", **whom})
