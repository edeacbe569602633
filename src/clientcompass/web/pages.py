"""The app shell's sections. Later issues fill Contacts, Quotes, Invoices and Templates."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.web.auth import CurrentPrincipal, OptionalPrincipal
from clientcompass.web.render import redirect, render

router = APIRouter(include_in_schema=False)

SECTIONS = {
    "contacts": ("Contacts", "Customers who message you, or whom you add, will be listed here."),
    "quotes": ("Quotes", "Quotes you create and send on WhatsApp will be listed here."),
    "invoices": ("Invoices", "Invoices and their payments will be listed here."),
}


@router.get("/")
async def home(principal: OptionalPrincipal) -> Response:
    return redirect("/inbox" if principal else "/login")


@router.get("/settings")
async def settings_home(principal: CurrentPrincipal) -> Response:
    return redirect(
        "/settings/business" if principal.role.manages_business else "/settings/account"
    )


@router.get("/deletion.html")
async def deletion(request: Request, principal: OptionalPrincipal) -> Response:
    return render(request, "deletion.html")


def _section_view(slug: str, title: str, empty: str) -> None:
    async def view(request: Request, principal: CurrentPrincipal) -> Response:
        return render(request, "section.html", {"section": slug, "title": title, "empty": empty})

    view.__name__ = f"{slug}_page"
    router.add_api_route(f"/{slug}", view, methods=["GET"])


for _slug, (_title, _empty) in SECTIONS.items():
    _section_view(_slug, _title, _empty)
