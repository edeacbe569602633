"""Outgoing webhook subscriptions and their delivery log: the rules pages and the API share.

Only owners and admins manage subscriptions (a URL that receives the business's leads and
payments is the business's decision). A subscription's secret is shown once, when it is made
or rotated, and is otherwise only ever sealed with the keyring. An event becomes, in the
event job's own transaction, one delivery row and one delivery job per matching active
subscription (tasks.py sends it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from clientcompass.audit import service as audit
from clientcompass.auth.principal import Principal
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.errors import Conflict, InvalidInput, NotFound
from clientcompass.integrations import events, signing
from clientcompass.integrations.http import UnsafeTarget, check_url
from clientcompass.models import AuditAction, WebhookDelivery, WebhookSubscription
from clientcompass.realtime.bus import Event

DELIVER_TASK = "integrations.deliver"
MAX_SUBSCRIPTIONS = 20
LOG_SIZE = 50
# After a rotation the old secret keeps signing (as a second signature) this long.
ROTATION_GRACE = timedelta(hours=24)


class Status:
    ACTIVE = "active"
    PAUSED = "paused"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Created:
    subscription: WebhookSubscription
    secret: str  # shown once


def secret_context(subscription: WebhookSubscription) -> str:
    """Binds a sealed secret to its row: a copy pasted into another row won't open."""
    return f"webhook_subscriptions.secret:{subscription.tenant_id}:{subscription.id}"


def secrets_in_force(
    keyring: Keyring, subscription: WebhookSubscription, now: datetime
) -> list[str]:
    """The secrets to sign with: the current one, and the previous one during its grace."""
    context = secret_context(subscription)
    found = [keyring.decrypt(subscription.secret_sealed, context=context)]
    until = subscription.previous_secret_until
    if subscription.previous_secret_sealed and until is not None and until > now:
        found.append(keyring.decrypt(subscription.previous_secret_sealed, context=context))
    return found


def checked_url(url: str, *, allow_private: bool) -> str:
    try:
        check_url(url, allow_private=allow_private)
    except UnsafeTarget as exc:
        raise InvalidInput(str(exc), field="url") from exc
    return url.strip()


def checked_events(chosen: Sequence[str]) -> list[str]:
    known = {e.value for e in events.WebhookEvent}
    picked = [e for e in events.WebhookEvent if e.value in set(chosen)]
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise InvalidInput(f"Unknown event: {', '.join(unknown)}.", field="events")
    if not picked:
        raise InvalidInput("Choose at least one event.", field="events")
    return [e.value for e in picked]


async def create(
    uow: UnitOfWork,
    actor: Principal,
    keyring: Keyring,
    *,
    url: str,
    chosen: Sequence[str],
    description: str = "",
    allow_private: bool = False,
) -> Created:
    actor.require_manager()
    url = checked_url(url, allow_private=allow_private)
    kinds = checked_events(chosen)
    existing = await uow.session.scalar(
        select(WebhookSubscription.id)
        .where(WebhookSubscription.tenant_id == actor.tenant_id)
        .offset(MAX_SUBSCRIPTIONS - 1)
        .limit(1)
    )
    if existing is not None:
        raise Conflict(f"A business can have {MAX_SUBSCRIPTIONS} webhooks. Delete one first.")
    subscription = WebhookSubscription(
        tenant_id=actor.tenant_id,
        id=uuid.uuid4(),
        url=url,
        events=kinds,
        description=description.strip()[:200],
        status=Status.ACTIVE,
        disabled_reason="",
        created_by=actor.user_id,
        created_at=uow.now,
        updated_at=uow.now,
    )
    secret = signing.generate_secret()
    subscription.secret_sealed = keyring.encrypt(secret, context=secret_context(subscription))
    uow.session.add(subscription)
    await uow.session.flush()
    return Created(subscription, secret)


async def list_all(uow: UnitOfWork, actor: Principal) -> list[WebhookSubscription]:
    actor.require_manager()
    return list(
        (
            await uow.session.scalars(
                select(WebhookSubscription)
                .where(WebhookSubscription.tenant_id == actor.tenant_id)
                .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
            )
        ).all()
    )


async def get(
    uow: UnitOfWork, actor: Principal, subscription_id: uuid.UUID, *, for_update: bool = False
) -> WebhookSubscription:
    """One of this business's subscriptions; another business's is not found."""
    actor.require_manager()
    query = (
        select(WebhookSubscription)
        .where(WebhookSubscription.tenant_id == actor.tenant_id)
        .where(WebhookSubscription.id == subscription_id)
    )
    found = await uow.session.scalar(query.with_for_update() if for_update else query)
    if found is None:
        raise NotFound("No such webhook.")
    return found


async def remove(uow: UnitOfWork, actor: Principal, subscription_id: uuid.UUID) -> None:
    """Delete a subscription and its log; a delivery job still queued then finds nothing."""
    actor.require_manager()
    gone = (
        await uow.session.execute(
            delete(WebhookSubscription)
            .where(WebhookSubscription.tenant_id == actor.tenant_id)
            .where(WebhookSubscription.id == subscription_id)
            .returning(WebhookSubscription.id, WebhookSubscription.url)
        )
    ).first()
    if gone is None:
        raise NotFound("No such webhook.")
    await audit.record(
        uow,
        AuditAction.WEBHOOK_DELETED,
        actor_id=actor.user_id,
        target_kind="webhook",
        target_id=gone.id,
        target_label=gone.url,
    )


async def set_active(
    uow: UnitOfWork, actor: Principal, subscription_id: uuid.UUID, active: bool
) -> WebhookSubscription:
    """Pause, or resume (which also re-enables one a 410 disabled)."""
    subscription = await get(uow, actor, subscription_id, for_update=True)
    subscription.status = Status.ACTIVE if active else Status.PAUSED
    subscription.disabled_reason = ""
    subscription.updated_at = uow.now
    await uow.session.flush()
    return subscription


async def rotate_secret(
    uow: UnitOfWork, actor: Principal, keyring: Keyring, subscription_id: uuid.UUID
) -> str:
    """A new secret, shown once; the old one signs as well for ROTATION_GRACE."""
    subscription = await get(uow, actor, subscription_id, for_update=True)
    secret = signing.generate_secret()
    subscription.previous_secret_sealed = subscription.secret_sealed
    subscription.previous_secret_until = uow.now + ROTATION_GRACE
    subscription.secret_sealed = keyring.encrypt(secret, context=secret_context(subscription))
    subscription.updated_at = uow.now
    await uow.session.flush()
    return secret


async def deliveries(
    uow: UnitOfWork,
    actor: Principal,
    subscription_id: uuid.UUID | None = None,
    *,
    limit: int = LOG_SIZE,
) -> list[WebhookDelivery]:
    """The newest deliveries, of one subscription or of all."""
    actor.require_manager()
    query = select(WebhookDelivery).where(WebhookDelivery.tenant_id == actor.tenant_id)
    if subscription_id is not None:
        await get(uow, actor, subscription_id)
        query = query.where(WebhookDelivery.subscription_id == subscription_id)
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
    return list((await uow.session.scalars(query.limit(limit))).all())


async def delivery(uow: UnitOfWork, actor: Principal, delivery_id: uuid.UUID) -> WebhookDelivery:
    actor.require_manager()
    found = await uow.session.get(WebhookDelivery, (actor.tenant_id, delivery_id))
    if found is None:
        raise NotFound("No such delivery.")
    return found


def body_of(event_type: str, at: datetime, data: dict[str, Any]) -> str:
    return json.dumps(
        events.envelope(event_type, at, data), separators=(",", ":"), ensure_ascii=False
    )


async def queue_delivery(
    uow: UnitOfWork, subscription: WebhookSubscription, event_id: str, event_type: str, body: str
) -> uuid.UUID | None:
    """A delivery row and its job, in this transaction; None when this event already has
    one for this subscription (the event job ran again)."""
    delivery_id = await uow.session.scalar(
        insert(WebhookDelivery)
        .values(
            tenant_id=subscription.tenant_id,
            id=uuid.uuid4(),
            subscription_id=subscription.id,
            event_id=event_id,
            message_id=signing.new_message_id(),
            event_type=event_type,
            payload=body,
            status="pending",
            attempts=0,
            last_error="",
            created_at=uow.now,
        )
        .on_conflict_do_nothing(
            index_elements=[
                WebhookDelivery.tenant_id,
                WebhookDelivery.subscription_id,
                WebhookDelivery.event_id,
            ]
        )
        .returning(WebhookDelivery.id)
    )
    if delivery_id is not None:
        uow.defer_job(
            DELIVER_TASK, tenant_id=str(subscription.tenant_id), delivery_id=str(delivery_id)
        )
    return delivery_id


async def send_test(uow: UnitOfWork, actor: Principal, subscription_id: uuid.UUID) -> uuid.UUID:
    """Queue a `webhook.test` to one subscription (even a paused one: it is a check)."""
    subscription = await get(uow, actor, subscription_id)
    data = {"subscription_id": str(subscription.id), "message": "This is a test webhook."}
    body = body_of(events.TEST_EVENT, uow.now, data)
    delivery_id = await queue_delivery(
        uow, subscription, f"test-{uuid.uuid4()}", events.TEST_EVENT, body
    )
    assert delivery_id is not None
    return delivery_id


async def on_event(uow: UnitOfWork, event: Event, data: dict[str, Any], event_id: str) -> None:
    """The durable events' webhook handler (a `work.EventHandler`, wired in jobs.py): a
    delivery for each of this business's active subscriptions to the event."""
    kind = events.FROM_BUS.get(event)
    if kind is None or uow.tenant_id is None:
        return
    subscriptions = (
        await uow.session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.tenant_id == uow.tenant_id)
            .where(WebhookSubscription.status == Status.ACTIVE)
            .where(WebhookSubscription.events.contains([kind.value]))
        )
    ).all()
    if not subscriptions:
        return
    payload = await events.payload_data(uow, kind, data)
    if payload is None:
        return
    body = body_of(kind.value, uow.now, payload)
    # Without an id (an event job queued before ids existed) each run would be new: key it.
    key = event_id or f"{event.value}:{json.dumps(data, sort_keys=True, default=str)}"[:64]
    for subscription in subscriptions:
        await queue_delivery(uow, subscription, key, kind.value, body)
