"""The app shell's own pages: home (the product page for visitors), the settings entry and the
deletion notice."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.web.auth import CurrentPrincipal, OptionalPrincipal
from clientcompass.web.render import redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request, principal: OptionalPrincipal) -> Response:
    """Signed in: the inbox. Otherwise a short page saying what this is, with the way in."""
    if principal:
        return redirect("/inbox")
    return render(request, "landing.html")


@router.get("/settings")
async def settings_home(principal: CurrentPrincipal) -> Response:
    return redirect(
        "/settings/business" if principal.role.manages_business else "/settings/account"
    )


@router.get("/deletion.html")
async def deletion(request: Request, principal: OptionalPrincipal) -> Response:
    return render(request, "deletion.html")
