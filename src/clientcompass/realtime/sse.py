"""Server-Sent Events, read from the tenant's Redis stream (the inbox and `/api/v1/events`).

Each connection reads the stream itself (XREAD from the last id it sent), so any app
process can serve any tab, nothing lives in process memory, and a reconnect with
`Last-Event-ID` replays exactly what was missed: the id of every SSE event is its Redis
stream id. A connection ends after a few minutes; the browser reconnects by itself
(with Last-Event-ID), which re-checks the session, so a revoked login stops listening.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import StreamingResponse

from clientcompass.realtime import bus

STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# Below the Redis client's 5 s socket timeout, so a quiet stream is not a broken socket.
BLOCK_MS = 4_000
KEEP_ALIVE_SECONDS = 15.0
MAX_CONNECTION_SECONDS = 300.0
RETRY_MS = 1_500
BATCH = 200


def valid_id(value: str | None) -> str | None:
    return value if value and STREAM_ID.match(value) else None


def _id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def head(redis: Redis, tenant_id: uuid.UUID) -> str:
    """The id of the newest event now: a page rendered after this resumes from it."""
    latest = await redis.xrevrange(bus.stream_name(tenant_id), count=1)
    return _text(latest[0][0]) if latest else "0-0"


async def _gap(redis: Redis, tenant_id: uuid.UUID, last_id: str) -> bool:
    """True when events after `last_id` may have been trimmed off the capped stream."""
    name = bus.stream_name(tenant_id)
    oldest = await redis.xrange(name, count=1)
    if not oldest or _id_key(_text(oldest[0][0])) <= _id_key(last_id):
        return False
    return int(await redis.xlen(name)) >= bus.STREAM_MAX_LENGTH * 9 // 10


def frame(event_id: str, payload: str) -> str:
    """One SSE event; a payload is one line of JSON (json.dumps escapes newlines)."""
    return f"id: {event_id}\ndata: {payload}\n\n"


async def event_stream(
    redis: Redis,
    tenant_id: uuid.UUID,
    last_event_id: str | None,
    *,
    max_seconds: float = MAX_CONNECTION_SECONDS,
) -> AsyncIterator[str]:
    """Everything after `last_event_id` (or from now), then live events as they come."""
    name = bus.stream_name(tenant_id)
    yield f"retry: {RETRY_MS}\n\n"
    last = valid_id(last_event_id)
    if last is None:
        last = await head(redis, tenant_id)
    elif await _gap(redis, tenant_id, last):
        yield frame(last, bus.encode(bus.Event.RESYNC, {}))
    started = quiet_since = time.monotonic()
    yield ": connected\n\n"
    while time.monotonic() - started < max_seconds:
        found = await redis.xread({name: last}, count=BATCH, block=BLOCK_MS)
        batches: Any = found.items() if isinstance(found, dict) else (found or [])
        for _stream, entries in batches:
            for entry_id, fields in entries:
                last = _text(entry_id)
                yield frame(last, _text(fields.get(b"event") or b"{}"))
                quiet_since = time.monotonic()
        if time.monotonic() - quiet_since >= KEEP_ALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()


HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


def response(request: Request, redis: Redis, tenant_id: uuid.UUID) -> StreamingResponse:
    """The tenant's events from `Last-Event-ID` (or `?last_event_id=`), unbuffered by proxies."""
    last = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    return StreamingResponse(
        event_stream(redis, tenant_id, last), media_type="text/event-stream", headers=HEADERS
    )
