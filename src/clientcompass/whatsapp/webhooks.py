"""Twilio's webhooks: verified against the channel's auth token, stored, acknowledged fast.

Slow work (media download) is deferred to jobs; the real-time event is published after
commit. A missing or forged signature gets 403 and stores nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from twilio.request_validator import RequestValidator

from clientcompass.models.base import utcnow
from clientcompass.web.auth import State
from clientcompass.web.state import AppState
from clientcompass.whatsapp import channels, events, inbound, media
from clientcompass.whatsapp.twilio import Credentials
from clientcompass.work import defer

log = structlog.get_logger(__name__)
router = APIRouter(include_in_schema=False)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def public_url(base_url: str, request: Request) -> str:
    """The exact URL Twilio signed: our public base, the path, and the query string."""
    query = request.url.query
    return f"{base_url}{request.url.path}" + (f"?{query}" if query else "")


def signature_is_valid(
    credentials: Credentials, url: str, params: Mapping[str, str], signature: str
) -> bool:
    if not signature:
        return False
    return bool(RequestValidator(credentials.auth_token).validate(url, dict(params), signature))


def _verified(
    state: AppState,
    request: Request,
    channel: channels.ChannelRef | None,
    params: Mapping[str, str],
    kind: str,
) -> bool:
    """A known channel and Twilio's signature over our public URL; counts what it refuses."""
    signature = request.headers.get("x-twilio-signature", "")
    url = public_url(state.settings.base_url, request)
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


@router.post("/webhooks/twilio/{key}/inbound")
async def inbound_message(key: str, request: Request, state: State) -> Response:
    started = time.perf_counter()
    params = await _form(request)
    async with state.fast.transaction() as conn:
        channel = await channels.channel_for_webhook(conn, key, state.keyring, state.channel_cache)
        if "MessageSid" not in params or not _verified(state, request, channel, params, "inbound"):
            return forbidden()
        assert channel is not None
        recorded = await inbound.record_inbound(conn, channel, params, utcnow())
    # Committed: now the slow work goes to jobs and the live event goes out.
    if recorded is not None:
        tenant_id = channel.tenant_id
        for media_id in recorded.media_ids:
            await defer(
                state.job_app,
                media.FETCH_TASK,
                {"tenant_id": str(tenant_id), "media_id": str(media_id)},
            )
        state.in_background(_announce_inbound(state, tenant_id, recorded))
    state.metrics.inbound_message(duplicate=recorded is None)
    state.metrics.webhook_latency("inbound", time.perf_counter() - started)
    return Response(EMPTY_TWIML, media_type="text/xml")


async def _announce_inbound(
    state: AppState, tenant_id: uuid.UUID, recorded: inbound.Recorded
) -> None:
    """Publish the new message; a Redis hiccup must not fail a webhook that is stored."""
    try:
        await events.publish(
            state.redis,
            tenant_id,
            "message.created",
            message_id=str(recorded.message_id),
            conversation_id=str(recorded.conversation_id),
            contact_id=str(recorded.contact_id),
            direction="inbound",
        )
    except Exception:
        log.exception("could not publish an inbound message event")


@router.post("/webhooks/twilio/{key}/status")
async def status_callback(key: str, request: Request, state: State) -> Response:
    started = time.perf_counter()
    params = await _form(request)
    message_hint = _uuid_or_none(request.query_params.get("m", ""))
    async with state.fast.transaction() as conn:
        channel = await channels.channel_for_webhook(conn, key, state.keyring, state.channel_cache)
    if not _verified(state, request, channel, params, "status"):
        return forbidden()
    assert channel is not None
    async with state.unit_of_work(channel.tenant_id) as uow:
        change = await inbound.apply_status(uow, channel, params, message_id=message_hint)
        if change is not None:
            tenant_id = channel.tenant_id

            async def publish() -> None:
                await events.publish(
                    state.redis,
                    tenant_id,
                    "message.status",
                    message_id=str(change.message_id),
                    conversation_id=str(change.conversation_id),
                    status=change.status.value,
                    error_code=change.error_code,
                )

            uow.on_commit(publish)
    reported = params.get("MessageStatus", "")
    state.metrics.outbound_status(reported, params.get("ErrorCode", ""))
    state.metrics.webhook_latency("status", time.perf_counter() - started)
    return Response(status_code=204)


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
