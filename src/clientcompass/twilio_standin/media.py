"""Message media: metadata, the authenticated content URL and the unauthenticated CDN.

Twilio's ``MediaUrl{N}`` points at ``.../Messages/{MM}/Media/{ME}``. Fetching it with
Basic auth answers a redirect to a short-lived, unguessable CDN URL that serves the
bytes without credentials; a client must therefore not forward its credentials on the
redirect. Right after a message arrives the media can briefly answer 404, which the
control surface can reproduce (``media_not_found_first``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from .auth import authenticate, public_base
from .errors import not_found
from .formats import ACCOUNTS, media_json, v2010_page
from .messaging import parse_date_filter
from .rest import paging
from .state import Media, StandinState

MEDIA_FILTERS = ("DateCreated", "DateCreated<", "DateCreated>")


def _matches(media: Media, filters: list[tuple[str, str]]) -> bool:
    for name, value in filters:
        start, end = parse_date_filter(name, value)
        created = media.date_created
        if (
            (name == "DateCreated" and not start <= created <= end)
            or (name == "DateCreated<" and created > end)
            or (name == "DateCreated>" and created < start)
        ):
            return False
    return True


def build_router(state: StandinState) -> APIRouter:
    router = APIRouter()
    base_path = "/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media"

    def find(account_sid: str, message_sid: str, sid: str, request: Request) -> Media:
        account = authenticate(state, request, account_sid)
        media = state.media.get(sid)
        if media is None or media.account_sid != account.sid or media.message_sid != message_sid:
            raise not_found(request.url.path)
        return media

    @router.get(base_path + ".json")
    async def list_media(account_sid: str, message_sid: str, request: Request) -> JSONResponse:
        account = authenticate(state, request, account_sid)
        message = state.messages.get(message_sid)
        if message is None or message.account_sid != account.sid:
            raise not_found(request.url.path)
        page, page_size = paging(request)
        filters = [(k, v) for k, v in request.query_params.multi_items() if k in MEDIA_FILTERS]
        items = [state.media[s] for s in message.media_sids if s in state.media]
        items = [m for m in items if _matches(m, filters)]
        chunk = items[page * page_size : (page + 1) * page_size]
        return JSONResponse(
            v2010_page(
                "media_list",
                [media_json(m) for m in chunk],
                path=f"{ACCOUNTS}/{account.sid}/Messages/{message_sid}/Media.json",
                filters=filters,
                page=page,
                page_size=page_size,
                total=len(items),
            )
        )

    @router.get(base_path + "/{sid}.json")
    async def fetch_media(
        account_sid: str, message_sid: str, sid: str, request: Request
    ) -> JSONResponse:
        return JSONResponse(media_json(find(account_sid, message_sid, sid, request)))

    @router.get(base_path + "/{sid}")
    async def media_content(
        account_sid: str, message_sid: str, sid: str, request: Request
    ) -> Response:
        media = find(account_sid, message_sid, sid, request)
        if media.not_found_remaining > 0:
            media.not_found_remaining -= 1
            raise not_found(request.url.path)
        if media.data is None:
            raise not_found(request.url.path)
        location = f"{public_base(state, request)}/_cdn/{media.cdn_token}"
        return RedirectResponse(location, status_code=307)

    @router.get("/_cdn/{token}")
    async def cdn(token: str) -> Response:
        media = state.media.get(state.cdn.get(token, ""))
        if media is None or media.data is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        headers = {"Cache-Control": "private, max-age=3600"}
        if media.filename:
            headers["Content-Disposition"] = f'inline; filename="{media.filename}"'
        return Response(media.data, media_type=media.content_type, headers=headers)

    return router
