"""Twilio's webhooks: verified against the channel's auth token, stored, acknowledged fast.

Storing an inbound message also queues its follow-up job in the same statement (see
conversations/inbound.py), so nothing is deferred here that a crash could lose; the live
event is published after the commit. A missing or forged signature gets 403 and stores
nothing.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from twilio.request_validator import RequestValidator

from clientcompass.models import ConversationStatus
from clientcompass.models.base import utcnow
from clientcompass.realtime.bus import Event, conversation_status
from clientcompass.twilio_client import Credentials
from clientcompass.web.auth import State
from clientcompass.web.errors import outage_of
from clientcompass.web.state import AppState
from clientcompass.whatsapp import channels, inbound

log = structlog.get_logger(__name__)
router = APIRouter(include_in_schema=False)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def public_url(base_url: str, path: str, query: str) -> str:
    """The exact URL Twilio signed: our public base, the path, and the query string."""
    return f"{base_url}{path}" + (f"?{query}" if query else "")


def signature_is_valid(
    credentials: Credentials, url: str, params: Mapping[str, str], signature: str
) -> bool:
    if not signature:
        return False
    return bool(RequestValidator(credentials.auth_token).validate(url, dict(params), signature))


def _verified(
    state: AppState,
    url: str,
    signature: str,
    channel: channels.ChannelRef | None,
    params: Mapping[str, str],
    kind: str,
) -> bool:
    """A known channel and Twilio's signature over our public URL; counts what it refuses."""
    if channel is not None and signature_is_valid(channel.credentials, url, params, signature):
        return True
    state.metrics.webhook_rejected(kind)
    return False


def forbidden() -> Response:
    return Response(
        "Invalid or missing X-Twilio-Signature\n", status_code=403, media_type="text/plain"
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    content_type: str


FORBIDDEN = Reply(403, "Invalid or missing X-Twilio-Signature\n", "text/plain")
ACCEPTED = Reply(200, EMPTY_TWIML, "text/xml")
UNSTORED = Reply(503, "Could not store the message now; deliver it again\n", "text/plain")


async def receive_inbound(
    state: AppState, key: str, params: Mapping[str, str], url: str, signature: str
) -> Reply:
    """Verify, store once (with its follow-up job), acknowledge."""
    started = time.perf_counter()
    channel = await channels.channel_for_webhook(
        state.fast, key, state.keyring, state.channel_cache
    )
    if "MessageSid" not in params or not _verified(
        state, url, signature, channel, params, "inbound"
    ):
        return FORBIDDEN
    assert channel is not None
    # Signed over the raw values; stored without what PostgreSQL text can't hold (a NUL).
    params = inbound.clean_params(params)
    async with state.fast.statement() as conn:
        recorded = await inbound.record_inbound(conn, channel, params, utcnow())
    if recorded is not None:  # committed, with its follow-up job: tell the open inboxes
        tenant_id = channel.tenant_id
        state.announcer.announce(
            tenant_id,
            Event.MESSAGE_CREATED,
            message_id=str(recorded.message_id),
            conversation_id=str(recorded.conversation_id),
            contact_id=str(recorded.contact_id),
            direction="inbound",
        )
        if recorded.reopened_from is not None:
            state.announcer.announce(
                tenant_id,
                Event.CONVERSATION_STATUS,
                **conversation_status(
                    recorded.conversation_id, ConversationStatus.OPEN.value, recorded.reopened_from
                ),
            )
    state.metrics.inbound_message(duplicate=recorded is None)
    state.metrics.webhook_latency("inbound", time.perf_counter() - started)
    return ACCEPTED


class _Route:
    """What the access log and metrics read from `scope["route"]`: the path template."""

    path = "/webhooks/twilio/{key}/inbound"


INBOUND_PATH = re.compile(r"^/webhooks/twilio/([^/]{1,200})/inbound$")
MAX_FORM_BYTES = 256 * 1024  # a WhatsApp message's form is a few KB


class InboundFastLane:
    """Twilio's inbound webhooks go straight to `receive_inbound`, ahead of FastAPI.

    It is the hottest path in the product, and bench/webhook_ingest measured a quarter of its
    CPU in FastAPI's routing, form parsing and dependency injection. It sits inside
    RequestMiddleware, so the request id, access log, metrics and headers are the same as for
    every other route; everything else goes on to FastAPI unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = INBOUND_PATH.match(scope["path"]) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = _Route
        body = await _read_body(receive)
        if body is None:
            reply = Reply(413, "Request body too large\n", "text/plain")
        else:
            params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            headers = dict(scope["headers"])
            state: AppState = scope["app"].state.cc
            try:
                reply = await receive_inbound(
                    state,
                    match.group(1),
                    params,
                    public_url(
                        state.settings.base_url,
                        scope["path"],
                        scope["query_string"].decode("latin-1"),
                    ),
                    headers.get(b"x-twilio-signature", b"").decode("latin-1"),
                )
            except Exception as exc:  # ahead of FastAPI, so its outage handler can't see it
                if outage_of(exc) is None:
                    raise
                reply = UNSTORED  # not stored, not acknowledged: Twilio delivers it again
        content = reply.body.encode()
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (b"content-type", f"{reply.content_type}; charset=utf-8".encode()),
                    (b"content-length", str(len(content)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None past MAX_FORM_BYTES."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


@router.post("/webhooks/twilio/{key}/status")
async def status_callback(key: str, request: Request, state: State) -> Response:
    started = time.perf_counter()
    params = await _form(request)
    message_hint = _uuid_or_none(request.query_params.get("m", ""))
    channel = await channels.channel_for_webhook(
        state.fast, key, state.keyring, state.channel_cache
    )
    url = public_url(state.settings.base_url, request.url.path, request.url.query)
    signature = request.headers.get("x-twilio-signature", "")
    if not _verified(state, url, signature, channel, params, "status"):
        return forbidden()
    assert channel is not None
    params = inbound.clean_params(params)
    async with state.unit_of_work(channel.tenant_id) as uow:
        change = await inbound.apply_status(uow, channel, params, message_id=message_hint)
        if change is not None:
            uow.announce(
                Event.MESSAGE_STATUS,
                message_id=str(change.message_id),
                conversation_id=str(change.conversation_id),
                status=change.status.value,
                error_code=change.error_code,
            )
    reported = params.get("MessageStatus", "")
    state.metrics.outbound_status(reported, params.get("ErrorCode", ""))
    state.metrics.webhook_latency("status", time.perf_counter() - started)
    return Response(status_code=204)


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
