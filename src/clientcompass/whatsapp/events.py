"""Real-time events per tenant on Redis: PUBLISH for live listeners, and a capped stream
(XADD) so a dropped SSE connection can resume from its Last-Event-ID without loss."""

from __future__ import annotations

import json
import uuid
from typing import Any

from redis.asyncio import Redis

STREAM_MAX_LENGTH = 10_000


def channel_name(tenant_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}:events"


def stream_name(tenant_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}:stream"


async def publish(redis: Redis, tenant_id: uuid.UUID, event_type: str, **data: Any) -> str:
    """Append to the tenant's stream and announce it; returns the stream id (the event id)."""
    payload = json.dumps({"type": event_type, **data}, default=str)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(
            stream_name(tenant_id), {"event": payload}, maxlen=STREAM_MAX_LENGTH, approximate=True
        )
        pipe.publish(channel_name(tenant_id), payload)
        event_id, _ = await pipe.execute()
    return event_id.decode() if isinstance(event_id, bytes) else str(event_id)
