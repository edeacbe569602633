"""The delivery job: one attempt at POSTing one delivery, signed, then its outcome.

It reads the delivery and its subscription, lets the transaction go, POSTs through the
SSRF-safe client (http.py), and records the outcome in a second transaction, so a slow
receiver holds no database connection and no lock.

Retry policy (also told to API callers in the `POST /api/v1/webhooks` description):
- a 2xx answer is delivered;
- 410 Gone means "stop": the delivery fails and the subscription is disabled (a person can
  resume it on the settings page);
- a URL we refuse to call (it now resolves to a private address) fails at once;
- anything else (a timeout, a refused connection, a 3xx, a 4xx, a 5xx) is tried again after
  5 s, 30 s, 2 min, 10 min and 1 h: 6 attempts in about 1 h 13 min, then it fails;
- every attempt carries the same `webhook-id`, so a receiver can drop a repeat (a worker
  killed between the POST and the record sends it again: delivery is at least once).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import procrastinate
import structlog
from sqlalchemy import select

from clientcompass.integrations import events, service, signing
from clientcompass.integrations.http import Answer, Resolver, post, system_resolver
from clientcompass.models import WebhookDelivery, WebhookSubscription
from clientcompass.work import LazyResources, Resources

log = structlog.get_logger(__name__)

BACKOFF_SECONDS = (5, 30, 120, 600, 3600)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
FINAL = frozenset({"delivered", "failed", "skipped"})


@dataclass(frozen=True)
class Attempt:
    url: str
    message_id: str
    body: bytes
    secrets: list[str]


def backoff_seconds(attempts_made: int) -> int:
    """The wait before the next attempt, after `attempts_made` attempts (1-based)."""
    return BACKOFF_SECONDS[min(attempts_made, len(BACKOFF_SECONDS)) - 1]


async def _read(
    resources: Resources, tenant_id: uuid.UUID, delivery_id: uuid.UUID
) -> Attempt | None:
    async with resources.unit_of_work(tenant_id) as uow:
        delivery = await uow.session.get(WebhookDelivery, (tenant_id, delivery_id))
        if delivery is None or delivery.status in FINAL:
            return None
        subscription = await uow.session.get(
            WebhookSubscription, (tenant_id, delivery.subscription_id)
        )
        if subscription is None:
            return None
        test = delivery.event_type == events.TEST_EVENT
        if subscription.status != service.Status.ACTIVE and not test:
            delivery.status = "skipped"
            delivery.last_error = f"not sent: the webhook is {subscription.status}"
            delivery.next_attempt_at = None
            return None
        return Attempt(
            url=subscription.url,
            message_id=delivery.message_id,
            body=delivery.payload.encode(),
            secrets=service.secrets_in_force(resources.keyring, subscription, uow.now),
        )


def describe(answer: Answer) -> str:
    if answer.error:
        return answer.error
    if answer.ok:
        return ""
    return f"HTTP {answer.status}"


async def deliver(
    resources: Resources,
    tenant_id: uuid.UUID,
    delivery_id: uuid.UUID,
    *,
    resolver: Resolver = system_resolver,
) -> Answer | None:
    """One attempt; returns what the receiver answered (None: nothing to send)."""
    attempt = await _read(resources, tenant_id, delivery_id)
    if attempt is None:
        return None
    timestamp = int(time.time())
    headers = signing.headers(attempt.secrets, attempt.message_id, timestamp, attempt.body)
    allow_private = resources.settings.webhook_allow_private_targets
    answer = await post(
        resources.http,
        attempt.url,
        attempt.body,
        headers,
        allow_private=allow_private,
        resolver=resolver,
    )
    async with resources.unit_of_work(tenant_id) as uow:
        delivery = await uow.session.scalar(
            select(WebhookDelivery)
            .where(WebhookDelivery.tenant_id == tenant_id)
            .where(WebhookDelivery.id == delivery_id)
            .with_for_update()
        )
        if delivery is None or delivery.status in FINAL:
            return answer
        delivery.attempts += 1
        delivery.last_attempt_at = uow.now
        delivery.last_status_code = answer.status
        delivery.last_duration_ms = answer.duration_ms
        delivery.last_error = describe(answer)[:500]
        delivery.next_attempt_at = None
        if answer.ok:
            delivery.status = "delivered"
            delivery.delivered_at = uow.now
        elif answer.status == 410:
            delivery.status = "failed"
            subscription = await uow.session.get(
                WebhookSubscription, (tenant_id, delivery.subscription_id), with_for_update=True
            )
            if subscription is not None:
                subscription.status = service.Status.DISABLED
                subscription.disabled_reason = (
                    f"The receiver answered 410 Gone on {uow.now:%Y-%m-%d %H:%M} UTC."
                )
                subscription.updated_at = uow.now
        elif answer.error.startswith("refused:") or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"
        else:
            wait = backoff_seconds(delivery.attempts)
            delivery.status = "retrying"
            delivery.next_attempt_at = uow.now + timedelta(seconds=wait)
            uow.defer_job(
                service.DELIVER_TASK,
                schedule_in=wait,
                tenant_id=str(tenant_id),
                delivery_id=str(delivery_id),
            )
        log.info(
            "webhook attempt",
            delivery_id=str(delivery_id),
            host=urlsplit(attempt.url).hostname,
            status=answer.status,
            outcome=delivery.status,
            attempts=delivery.attempts,
        )
    return answer


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    """The delivery job, on its own queue: a slow receiver never delays a send or a push."""

    @job_app.task(name=service.DELIVER_TASK, queue="webhooks")
    async def deliver_webhook(tenant_id: str, delivery_id: str) -> None:
        await deliver(await lazy.get(), uuid.UUID(tenant_id), uuid.UUID(delivery_id))
