"""Server-Sent Events, read from the tenant's Redis stream (the inbox and `/api/v1/events`).

Each connection reads the stream itself (XREAD from the last id it sent), so any app
process can serve any tab, nothing lives in process memory, and a reconnect with
`Last-Event-ID` replays exactly what was missed: the id of every SSE event is its Redis
stream id. A connection ends after a few minutes; the browser reconnects by itself
(with Last-Event-ID), which re-checks the session, so a revoked login stops listening.
When the process drains for shutdown, every stream ends at once with a `retry:` hint, so
the browser reconnects to another replica instead of holding this one's shutdown open.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import StreamingResponse

from clientcompass.draining import Draining, draining_of
from clientcompass.realtime import bus
from clientcompass.realtime.presence import Viewing
from clientcompass.redis import REDIS_ERRORS

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


def drain_hint() -> str:
    """The last frame of a stream cut by a draining process: reconnect, spread over a window
    so a replica's clients do not all land on the next one in the same instant."""
    return f"retry: {RETRY_MS + secrets.randbelow(RETRY_MS)}\n: draining\n\n"


async def _read(redis: Redis, name: str, last: str, draining: Draining | None) -> Any:
    """The next XREAD, or None as soon as the process starts draining."""
    read = redis.xread({name: last}, count=BATCH, block=BLOCK_MS)
    if draining is None:
        return await read
    reading = asyncio.ensure_future(read)
    stopped = asyncio.ensure_future(draining.wait())
    try:
        await asyncio.wait({reading, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not reading.done():
            # redis-py drops a connection cancelled mid-read, so none is reused half-read.
            reading.cancel()
            await asyncio.wait({reading})
    return None if reading.cancelled() else reading.result()


async def event_stream(
    redis: Redis,
    tenant_id: uuid.UUID,
    last_event_id: str | None,
    *,
    max_seconds: float = MAX_CONNECTION_SECONDS,
    draining: Draining | None = None,
) -> AsyncIterator[str]:
    """Everything after `last_event_id` (or from now), then live events as they come, until
    `max_seconds` pass or `draining` is set (then a last `retry:` hint)."""
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
        if draining is not None and draining.active:
            yield drain_hint()
            return
        found = await _read(redis, name, last, draining)
        batches: Any = found.items() if isinstance(found, dict) else (found or [])
        for _stream, entries in batches:
            for entry_id, fields in entries:
                last = _text(entry_id)
                yield frame(last, _text(fields.get(b"event") or b"{}"))
                quiet_since = time.monotonic()
        if time.monotonic() - quiet_since >= KEEP_ALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()


async def _ending_on_outage(stream: AsyncIterator[str]) -> AsyncIterator[str]:
    """When Redis goes away mid-stream, end the stream cleanly with a `retry:` hint instead of
    cutting it with an error; the reconnect gets a 503 until Redis is back."""
    try:
        async for chunk in stream:
            yield chunk
    except REDIS_ERRORS:
        yield f"retry: {RETRY_MS * 2}\n: redis unavailable\n\n"


HEADERS = {"cache-control": "no-store", "x-accel-buffering": "no"}


async def _marking_presence(stream: AsyncIterator[str], viewing: Viewing) -> AsyncIterator[str]:
    """While the stream runs, its person counts as looking at the conversation (no push for
    it, notifications/fanout.py); every frame, keep-alives included, renews that."""
    try:
        async for chunk in stream:
            await viewing.refresh()
            yield chunk
    finally:
        # Not awaited here: a client that went away cancels this stream's scope, and anyio
        # cancels every await inside it. A mark left behind lapses on its own.
        leaving = asyncio.get_running_loop().create_task(viewing.leave())
        _LEAVING.add(leaving)
        leaving.add_done_callback(_left)


_LEAVING: set[asyncio.Task[None]] = set()


def _left(task: asyncio.Task[None]) -> None:
    _LEAVING.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a Redis error here is harmless (the mark lapses)


def response(
    request: Request, redis: Redis, tenant_id: uuid.UUID, *, user_id: uuid.UUID | None = None
) -> StreamingResponse:
    """The tenant's events from `Last-Event-ID` (or `?last_event_id=`), unbuffered by proxies.
    With `?viewing=<conversation id>` and a person, marks them present on that conversation."""
    last = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    stream = _ending_on_outage(
        event_stream(redis, tenant_id, last, draining=draining_of(request.app))
    )
    viewing = _uuid(request.query_params.get("viewing", ""))
    if viewing is not None and user_id is not None:
        stream = _marking_presence(stream, Viewing(redis, tenant_id, viewing, user_id))
    return StreamingResponse(stream, media_type="text/event-stream", headers=HEADERS)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None
