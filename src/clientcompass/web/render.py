"""Rendering helpers shared by the HTML views."""

from __future__ import annotations

from functools import cache
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from clientcompass.web.state import app_state

HOME_TIME_ZONE = "Africa/Johannesburg"
# The IANA areas a person picks from; the old aliases (US/Eastern, Etc/GMT+2, …) stay valid
# when typed into the API, but the page does not offer them.
TIME_ZONE_AREAS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


@cache
def time_zone_choices() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The business profile's time zones as (area, zones) groups, for a select's optgroups."""
    zones = sorted(
        zone
        for zone in available_timezones()
        if zone.partition("/")[0] in TIME_ZONE_AREAS and zone != HOME_TIME_ZONE
    )
    grouped = groupby(zones, key=lambda zone: zone.partition("/")[0])
    return (*((area, tuple(members)) for area, members in grouped), ("Other", ("UTC",)))


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    ctx = {"principal": getattr(request.state, "principal", None), **(context or {})}
    return app_state(request).templates.TemplateResponse(request, template, ctx, status_code=status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(url: str | None, default: str = "/inbox") -> str:
    """Only same-site relative paths, so `?next=` cannot bounce a user to another site."""
    if not url:
        return default
    # Browsers read "/\evil.example" as "//evil.example", and skip tabs and newlines in a URL.
    if "\\" in url or any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return default
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url.startswith("/") or url.startswith("//"):
        return default
    return url


async def form_dict(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}
