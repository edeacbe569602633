"""Meta's data-deletion callback and its status page.

`POST /meta/data-deletion` is called by Meta's servers, not a browser: it carries no cookie
and no CSRF token, and its `signed_request` (HMAC-SHA256 with META_APP_SECRET,
lifecycle/signed_request.py) is the protection. It takes no session dependency, which is
where the app checks CSRF (web/auth.py), so the exemption is exactly this path, as for
Twilio's webhooks. A request that fails any check gets 400 and nothing is recorded.

With META_APP_SECRET unset the callback answers 404: this installation has no Meta app, so
there is nothing for Meta to call and no secret a request could be checked against.

`GET /meta/data-deletion/<code>` is the status page Meta links the person to: public, found
by the unguessable confirmation code, and saying what was held and deleted.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from clientcompass.lifecycle import meta
from clientcompass.lifecycle.signed_request import InvalidSignedRequest, parse
from clientcompass.web.auth import State
from clientcompass.web.errors import error_body
from clientcompass.web.render import HOME_TIME_ZONE

log = structlog.get_logger(__name__)

router = APIRouter(include_in_schema=False)

NOT_CONFIGURED = (
    "Meta's data-deletion callback is not set up on this server (META_APP_SECRET is not set)."
)
INVALID = (
    "The signed_request is missing or not valid: it must be signed with this app's secret "
    "using HMAC-SHA256 and name a user_id."
)
NO_INDEX = {"x-robots-tag": "noindex, nofollow", "referrer-policy": "no-referrer"}


@router.post(meta.PATH)
async def deletion_callback(request: Request, state: State) -> Response:
    secret = state.settings.meta_app_secret
    if not secret:
        return JSONResponse(error_body("not_found", NOT_CONFIGURED), status_code=404)
    form = await request.form()
    given = form.getlist("signed_request")
    try:
        if len(given) != 1 or not isinstance(given[0], str):
            raise InvalidSignedRequest("not one signed_request")
        deletion = parse(given[0], secret)
    except InvalidSignedRequest as exc:
        log.warning("meta data-deletion request refused", reason=str(exc))
        return JSONResponse(error_body("invalid", INVALID), status_code=400)
    async with state.unit_of_work() as uow:
        recorded = await meta.record(uow, deletion)
        code = recorded.confirmation_code
    # Not the code: it is the key to the status page.
    log.info("meta data-deletion request recorded", deletion_request=str(recorded.id))
    return JSONResponse(
        {"url": meta.status_url(state.settings.base_url, code), "confirmation_code": code}
    )


@router.get(meta.PATH + "/{code}")
async def deletion_status(request: Request, code: str, state: State) -> Response:
    async with state.unit_of_work() as uow:
        found = await meta.find(uow, code)
    context: dict[str, Any] = {"errors": {}, "found": found is not None}
    if found is not None:
        context.update(
            code=found.confirmation_code,
            received=meta.when(found.received_at, HOME_TIME_ZONE),
            completed=meta.when(found.completed_at, HOME_TIME_ZONE) if found.completed_at else "",
            outcome=found.outcome,
        )
    return state.templates.TemplateResponse(
        request,
        "lifecycle/meta_deletion.html",
        context,
        status_code=200 if found is not None else 404,
        headers=NO_INDEX,
    )
