"""The upcoming privacy policy version, readable from the day it is announced until it takes
effect (then /privacy serves it). 404 when no version is announced."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.errors import NotFound
from clientcompass.lifecycle.policy_notice import UPCOMING_PATH
from clientcompass.policy import policy
from clientcompass.web.auth import OptionalPrincipal, State
from clientcompass.web.render import render

router = APIRouter(include_in_schema=False)


def announced() -> policy.Upcoming | None:
    """For templates: the version to link from /privacy, if one is announced."""
    return policy.upcoming(datetime.now(UTC).date())


@router.get(UPCOMING_PATH)
async def upcoming(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    found = announced()
    if found is None:
        raise NotFound("No new version of the privacy policy has been announced.")
    return render(
        request,
        "privacy.html",
        {
            "policy_html": policy.render_html(state.settings, found.version),
            "version": found.version,
            "effective": found.effective.strftime("%d %B %Y"),
            "is_upcoming": True,
        },
    )
