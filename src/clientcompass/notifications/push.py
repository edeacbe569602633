"""Web push delivery: one job per notice for all its devices, VAPID-signed (RFC 8292), aes128gcm-encrypted
(RFC 8291), POSTed to the device's push service (RFC 8030).

pywebpush does the crypto (`WebPusher.encode`, py_vapid's `Vapid.sign`); the request is ours,
async, bounded by a timeout, on one aiohttp connection pool per process (`work.push_client`).
Not httpx, as elsewhere: its pool re-checks every kept-alive connection on each request, and
a burst to one push service keeps dozens alive; that scan was over a third of a worker's CPU
at 1,000 pushes (bench/notify), where aiohttp takes an idle connection from a per-host list.
The job reads the subscriptions, lets go of the database, then calls the push service, and
writes the outcome afterwards: a push service that is slow or down holds no connection and
never slows a webhook or a page, only this job, which backs off and retries.

Nothing here logs a payload, a subscription's keys or the VAPID private key.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import urlsplit

import aiohttp
import procrastinate
import structlog
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid  # type: ignore[import-untyped]
from pywebpush import WebPusher  # type: ignore[import-untyped]
from sqlalchemy import delete

from clientcompass.config import Settings, load_vapid_private_key
from clientcompass.models import PushSubscription
from clientcompass.models.base import utcnow
from clientcompass.notifications import outbox, subscriptions
from clientcompass.work import LazyResources, Resources

log = structlog.get_logger(__name__)

TIMEOUT_SECONDS = 10.0
# RFC 8292 §2: exp at most 24 hours ahead; 12 leaves room for a push service's clock.
VAPID_LIFETIME_SECONDS = 12 * 3600
# 6 attempts, 4 s after the first, then 16 s, 64 s, ~4 min, ~17 min: about 22 minutes in all,
# after which a "new message" alert is stale anyway. A Retry-After longer than the step wins,
# up to an hour.
MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 4
MAX_RETRY_AFTER_SECONDS = 3600
# Ahead of the queue's other jobs (procrastinate takes the highest priority first): in a burst
# of customers' messages, each message's pushes go out as soon as it is handled instead of
# after every other message's follow-up. A push job is a few milliseconds, so nothing else
# waits long (bench/notify, 100 messages at once: p50 1.3 s → 1.1 s; the slowest as slow).
PUSH_PRIORITY = 10
# "Last used" is shown to the person per device; a burst of pushes to one phone writes it once.
LAST_USED_PRECISION = timedelta(minutes=1)


class Result(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"  # 404/410: the browser dropped the subscription; delete the row
    RETRY = "retry"  # 429, 5xx, network error, timeout: try again later
    REJECTED = "rejected"  # any other 4xx: retrying the same request cannot help


@dataclass(frozen=True)
class Outcome:
    result: Result
    status: int | None = None
    retry_after: float | None = None


@functools.lru_cache(maxsize=4)
def _vapid(private_key: str) -> Vapid:
    return Vapid(load_vapid_private_key(private_key))


def vapid_public_key(settings: Settings) -> str:
    """The `applicationServerKey` a page subscribes with: base64url of the 65-byte point."""
    point = _vapid(settings.vapid_private_key).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).decode().rstrip("=")


def origin(endpoint: str) -> str:
    """RFC 8292 §2: the JWT's audience is the push resource's origin."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


# Signed VAPID headers per (key, subject, push service origin): an ECDSA signature per push
# was a tenth of a push's CPU, and one token serves a push service for an hour.
_signed: dict[tuple[str, str, str], tuple[float, str]] = {}
SIGNED_REUSE_SECONDS = 3600


def authorization(settings: Settings, endpoint: str) -> str:
    """The VAPID Authorization (`vapid t=…,k=…`) for this push service, reused for an hour
    of its 12-hour life."""
    audience = origin(endpoint)
    cache_key = (settings.vapid_private_key, settings.vapid_subject, audience)
    now = time.time()
    cached = _signed.get(cache_key)
    if cached is not None and now - cached[0] < SIGNED_REUSE_SECONDS:
        return cached[1]
    claims = {
        "aud": audience,
        "exp": int(now) + VAPID_LIFETIME_SECONDS,
        "sub": settings.vapid_subject,
    }
    signed: dict[str, str] = _vapid(settings.vapid_private_key).sign(claims)
    if len(_signed) > 1000:  # one entry per push service in practice; never unbounded
        _signed.clear()
    _signed[cache_key] = (now, signed["Authorization"])
    return signed["Authorization"]


def request_headers(settings: Settings, endpoint: str, push: outbox.Push) -> dict[str, str]:
    """The RFC 8030 headers and the VAPID Authorization."""
    return {
        "Authorization": authorization(settings, endpoint),
        "TTL": str(max(0, push.ttl_seconds)),
        "Urgency": push.urgency.value,
        "Topic": push.topic,
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
    }


def encrypt(endpoint: str, keys: subscriptions.Keys, push: outbox.Push) -> bytes:
    """The payload (`{"title","body","url","tag"}`) encrypted to the device's keys."""
    data = json.dumps(push.payload(), separators=(",", ":")).encode()
    pusher = WebPusher({"endpoint": endpoint, "keys": {"p256dh": keys.p256dh, "auth": keys.auth}})
    body: bytes = pusher.encode(data, content_encoding="aes128gcm")["body"]
    return body


async def deliver(
    http: aiohttp.ClientSession,
    settings: Settings,
    endpoint: str,
    keys: subscriptions.Keys,
    push: outbox.Push,
) -> Outcome:
    """POST one encrypted push; what the push service said, as what to do next."""
    body = encrypt(endpoint, keys, push)
    headers = request_headers(settings, endpoint, push)
    try:
        async with http.post(endpoint, data=body, headers=headers) as response:
            status = response.status
            if 200 <= status < 300:
                return Outcome(Result.DELIVERED, status)
            if status in (404, 410):
                return Outcome(Result.GONE, status)
            if status == 429 or status >= 500:
                retry_after = _retry_after(response.headers.get("Retry-After"))
                return Outcome(Result.RETRY, status, retry_after)
            # The push service's own words help an operator (a VAPID mismatch, a payload too
            # big); they never hold the payload or keys, which only we know.
            reason = (await response.content.read(200)).decode(errors="replace")
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning(
            "push service unreachable", host=urlsplit(endpoint).hostname, error=type(exc).__name__
        )
        return Outcome(Result.RETRY)
    log.warning(
        "push service refused a push",
        host=urlsplit(endpoint).hostname,
        status=status,
        reason=reason,
    )
    return Outcome(Result.REJECTED, status)


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def backoff_seconds(attempt: int, retry_after: float | None) -> float:
    """4 s, 16 s, 64 s…, never sooner than the push service's Retry-After (up to an hour)."""
    wait = float(BACKOFF_BASE_SECONDS ** (attempt + 1))
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return wait


@dataclass(frozen=True)
class Target:
    id: uuid.UUID
    endpoint: str
    keys: subscriptions.Keys
    fresh: bool  # last_used_at was written less than LAST_USED_PRECISION ago


async def send(
    resources: Resources,
    tenant_id: uuid.UUID,
    subscription_ids: list[uuid.UUID],
    push: outbox.Push,
    *,
    attempt: int = 0,
) -> dict[uuid.UUID, Outcome]:
    """The job's work: read the devices, push to all of them side by side, then write the
    outcomes: "last notified" for the ones reached, and in one transaction, a device the push
    service calls gone is deleted and the ones to retry get a job of their own, later (so a
    crash loses neither). The read and the common write are one autocommit call each
    (migration 0029): a unit of work around them cost two more round trips apiece."""
    async with resources.fast.statement() as conn:
        cursor = await conn.execute(
            "select id, endpoint, keys_encrypted, last_used_at from cc_push_targets(%s, %s)",
            (tenant_id, subscription_ids),
        )
        rows = await cursor.fetchall()
    now = utcnow()
    targets = [
        Target(
            row_id,
            endpoint,
            subscriptions.keys_of(resources.keyring, keys_encrypted),
            last_used is not None and now - last_used < LAST_USED_PRECISION,
        )
        # a device removed since the push was queued is simply absent
        for row_id, endpoint, keys_encrypted, last_used in rows
    ]
    if not targets:
        return {}
    results = await asyncio.gather(
        *(
            deliver(resources.push_http, resources.settings, t.endpoint, t.keys, push)
            for t in targets
        )
    )
    outcomes = {target.id: outcome for target, outcome in zip(targets, results, strict=True)}
    used = [t.id for t in targets if outcomes[t.id].result is Result.DELIVERED and not t.fresh]
    gone = [t for t in targets if outcomes[t.id].result is Result.GONE]
    again = [t.id for t in targets if outcomes[t.id].result is Result.RETRY]
    if used:
        async with resources.fast.statement() as conn:
            await conn.execute("select cc_push_delivered(%s, %s, %s)", (tenant_id, used, utcnow()))
    if not (gone or again):
        return outcomes
    async with resources.unit_of_work(tenant_id) as uow:
        for target in gone:
            # Only the row that still has this endpoint: a device that subscribed again
            # since has a new one, and stays.
            await uow.session.execute(
                delete(PushSubscription)
                .where(PushSubscription.tenant_id == tenant_id)
                .where(PushSubscription.id == target.id)
                .where(PushSubscription.endpoint == target.endpoint)
            )
            log.info("push subscription gone; removed", subscription_id=str(target.id))
        if again and attempt + 1 < MAX_ATTEMPTS:
            wait = backoff_seconds(
                attempt, max((outcomes[i].retry_after or 0.0) for i in again) or None
            )
            outbox.queue_push(uow, again, push, attempt=attempt + 1, schedule_in=wait)
        elif again:
            log.warning("push not delivered; giving up", devices=len(again), attempts=attempt + 1)
    return outcomes


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    """Register the push job (on the notifications queue). A push service's refusals are
    retried by the job itself, per device; an outage of our own database is retried by
    `worker_loop.OutageRetry`, the whole batch again."""

    @job_app.task(name=outbox.PUSH_TASK, queue="notifications", priority=PUSH_PRIORITY)
    async def push_to_devices(
        tenant_id: str, subscription_ids: list[str], push: dict[str, object], attempt: int = 0
    ) -> None:
        await send(
            await lazy.get(),
            uuid.UUID(tenant_id),
            [uuid.UUID(s) for s in subscription_ids],
            outbox.push_from_job(push),
            attempt=attempt,
        )
