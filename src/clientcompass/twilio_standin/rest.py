"""Twilio's API v2010 surface: the Account, and Messages (create, fetch, list).

Paths, parameters and JSON match Twilio's so the official SDK and the app's own client
can be pointed here by changing only the base URL. Armed faults (see the control
surface) make creates fail or stall the way a real network and a busy Twilio do.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData

from .auth import authenticate
from .delivery import run_outbound
from .errors import TwilioError, not_found
from .formats import ACCOUNTS, account_json, message_json, v2010_page
from .messaging import CreateRequest, create, filter_messages, validate
from .state import StandinState

MESSAGE_FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")
DEFAULT_PAGE_SIZE = 50


def form_value(form: FormData, key: str) -> str | None:
    value = form.get(key)
    return value if isinstance(value, str) else None


def paging(request: Request, default: int = DEFAULT_PAGE_SIZE) -> tuple[int, int]:
    """``(Page, PageSize)`` from the query, validated as Twilio does (1..1000)."""
    try:
        page_size = int(request.query_params.get("PageSize", default))
        page = int(request.query_params.get("Page", 0))
    except ValueError as exc:
        raise TwilioError(400, 20001, "Page and PageSize must be integers") from exc
    if not 1 <= page_size <= 1000 or page < 0:
        raise TwilioError(400, 20001, "PageSize must be between 1 and 1000")
    return page, page_size


async def stall(request: Request, seconds: float) -> None:
    """Hold the response for ``seconds``, giving up as soon as the client has left
    (the point of the fault is the client's timeout, not a stuck server shutdown)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)


def build_router(state: StandinState) -> APIRouter:
    router = APIRouter()

    @router.get("/2010-04-01/Accounts/{sid}.json")
    async def fetch_account(sid: str, request: Request) -> JSONResponse:
        return JSONResponse(account_json(authenticate(state, request, sid)))

    @router.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
    async def create_message(account_sid: str, request: Request) -> Response:
        account = authenticate(state, request, account_sid)
        async with state.lock:
            refusal = state.take_fault("http_500", "http_429")
        if refusal is not None:
            raise TwilioError(500, 20500) if refusal.mode == "http_500" else TwilioError(429, 20429)
        form = await request.form()
        create_request = CreateRequest(
            to=form_value(form, "To"),
            from_=form_value(form, "From"),
            body=form_value(form, "Body"),
            media_urls=[v for v in form.getlist("MediaUrl") if isinstance(v, str) and v],
            content_sid=form_value(form, "ContentSid"),
            content_variables=form_value(form, "ContentVariables"),
            status_callback=form_value(form, "StatusCallback"),
            messaging_service_sid=form_value(form, "MessagingServiceSid"),
        )
        async with state.lock:
            sender, content, variables = validate(state, account, create_request)
            message = create(state, account, create_request, sender, content, variables)
            slow = state.take_fault("timeout_after_accept")
        state.spawn(run_outbound(state, message), name=f"outbound {message.sid}")
        body = message_json(message)
        if slow is not None:
            await stall(request, slow.delay_seconds)
        return JSONResponse(body, status_code=201)

    @router.get("/2010-04-01/Accounts/{account_sid}/Messages.json")
    async def list_messages(account_sid: str, request: Request) -> JSONResponse:
        account = authenticate(state, request, account_sid)
        page, page_size = paging(request)
        filters = [(k, v) for k, v in request.query_params.multi_items() if k in MESSAGE_FILTERS]
        selected = filter_messages(state.messages.values(), account.sid, filters)
        chunk = selected[page * page_size : (page + 1) * page_size]
        return JSONResponse(
            v2010_page(
                "messages",
                [message_json(m) for m in chunk],
                path=f"{ACCOUNTS}/{account.sid}/Messages.json",
                filters=filters,
                page=page,
                page_size=page_size,
                total=len(selected),
            )
        )

    @router.get("/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json")
    async def fetch_message(account_sid: str, sid: str, request: Request) -> JSONResponse:
        account = authenticate(state, request, account_sid)
        message = state.messages.get(sid)
        if message is None or message.account_sid != account.sid:
            raise not_found(request.url.path)
        return JSONResponse(message_json(message))

    return router
