"""The live event bus: every change the team should see at once, per tenant, on Redis.

One way in: a service calls `uow.announce(Event.X, …)`, and the unit of work hands the event
to an `Announcer` once its transaction has committed (a rollback announces nothing). The
Announcer appends to the tenant's capped stream (XADD), which SSE readers follow with XREAD,
so a dropped connection resumes from its Last-Event-ID without loss, and PUBLISHes it for
other listeners. Event names are the `Event` enum: one list, shared by publishers and the
browser's handlers.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from enum import StrEnum
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis

STREAM_MAX_LENGTH = 10_000
log = structlog.get_logger(__name__)


class Event(StrEnum):
    MESSAGE_CREATED = "message.created"
    MESSAGE_STATUS = "message.status"
    MEDIA_STORED = "media.stored"
    CONVERSATION_READ = "conversation.read"
    CONVERSATION_ASSIGNED = "conversation.assigned"
    CONVERSATION_STATUS = "conversation.status"
    CONVERSATION_LABELS = "conversation.labels"
    CONVERSATION_NOTE = "conversation.note"
    DOCUMENT_ACCEPTED = "document.accepted"
    DOCUMENT_DECLINED = "document.declined"
    DOCUMENT_PAID = "document.paid"
    LEAD_CREATED = "lead.created"
    LEAD_STAGE_CHANGED = "lead.stage_changed"
    CONTACT_CONSENT = "contact.consent"
    # A flow handed the conversation to a person (the flows issue announces it).
    CONVERSATION_HANDOFF = "conversation.handoff"
    # A flow run started, paused, resumed or ended in a conversation (the thread shows it).
    FLOW_RUN_CHANGED = "flow.run"
    # Sent by the SSE reader itself when the capped stream lost events a client asked for.
    RESYNC = "resync"


# Events that something must act on after the change, whether or not a tab is open: a
# notification, a lead's stage, an outgoing webhook. The unit of work writes an `EVENT_TASK`
# job for each into its own transaction (work.py), so the job exists exactly when the change
# does; the job runs every handler wired in jobs.EVENT_HANDLERS. A customer's message is
# stored by the webhook's fast path, outside any unit of work: its follow-ups run in the
# inbound pipeline's one job instead (conversations/inbound.py), off the webhook's hot path.
EVENT_TASK = "events.after_commit"
DURABLE: frozenset[Event] = frozenset(
    {
        Event.CONVERSATION_ASSIGNED,
        Event.CONVERSATION_HANDOFF,
        Event.DOCUMENT_ACCEPTED,
        Event.DOCUMENT_DECLINED,
        Event.DOCUMENT_PAID,
        Event.LEAD_CREATED,
        Event.LEAD_STAGE_CHANGED,
    }
)


class Publisher(Protocol):
    def announce(self, tenant_id: uuid.UUID, event: Event, **data: Any) -> None: ...


def channel_name(tenant_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}:events"


def stream_name(tenant_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}:stream"


def encode(event: Event, data: dict[str, Any]) -> str:
    return json.dumps({"type": event.value, **data}, default=str)


# How long closing waits for a batch in flight (redis-py's own timeouts end it sooner).
CLOSE_TIMEOUT_SECONDS = 10.0


class Announcer:
    """Publishes events in batches: one pipeline round trip for all the events that arrived
    while the previous one was in flight.

    Measured with bench/webhook_ingest: a pipeline per inbound message was a seventh of the
    webhook's CPU. Under load a batch carries many events for about the cost of one; when it
    is quiet each event still goes out at once. Order is kept (one sender, one connection per
    batch). A Redis error is logged and that batch dropped: the data is committed, and a
    reconnecting inbox reloads what it shows.
    """

    def __init__(self, redis: Redis, *, max_batch: int = 500) -> None:
        self.redis = redis
        self.max_batch = max_batch
        self._pending: list[tuple[uuid.UUID, str]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False

    def announce(self, tenant_id: uuid.UUID, event: Event, **data: Any) -> None:
        """Queue an event; it goes out after the current batch, never blocking the caller."""
        self._pending.append((tenant_id, encode(event, data)))
        self._idle.clear()
        self._wake.set()
        if self._task is None:  # the sender starts with the first event, in the running loop
            self._task = asyncio.create_task(self._run())

    async def drain(self) -> None:
        """Wait until everything queued so far has been sent (or dropped on a Redis error)."""
        await self._idle.wait()

    async def close(self) -> None:
        """Send what is queued, then stop.

        The sender is asked to finish, not cancelled: redis-py can swallow a cancellation
        that lands inside a pipeline's round trip, and the sender then waited for the next
        event forever, with this awaiting it (a worker that never finished shutting down).
        Only one stuck on a dead Redis for CLOSE_TIMEOUT_SECONDS is cancelled, and left."""
        if self._task is not None:
            self._closing = True
            self._wake.set()
            done, _ = await asyncio.wait({self._task}, timeout=CLOSE_TIMEOUT_SECONDS)
            if not done:
                self._task.cancel()
            self._task = None
            self._closing = False  # an event announced after this starts a new sender
        while self._pending:
            await self._flush()
        self._idle.set()

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._flush()
            self._idle.set()

    async def _flush(self) -> None:
        batch = self._pending[: self.max_batch]
        del self._pending[: self.max_batch]
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for tenant_id, payload in batch:
                    pipe.xadd(
                        stream_name(tenant_id),
                        {"event": payload},
                        maxlen=STREAM_MAX_LENGTH,
                        approximate=True,
                    )
                    pipe.publish(channel_name(tenant_id), payload)
                await pipe.execute()
        except Exception:
            log.exception("could not publish live events", count=len(batch))


def conversation_status(conversation_id: uuid.UUID, status: str, was: str) -> dict[str, str]:
    """The one payload of `Event.CONVERSATION_STATUS`, whoever changed the status: a teammate,
    the snooze alarm, or the customer's message that reopened it (whatsapp/webhooks.py)."""
    return {"conversation_id": str(conversation_id), "status": status, "was": was}
