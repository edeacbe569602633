"""Per-channel send rate, shared by every worker through Redis (fixed windows)."""

from __future__ import annotations

import asyncio
import math
import time
import uuid

from redis.asyncio import Redis


async def wait_for_send_slot(redis: Redis, channel_id: uuid.UUID, per_second: float) -> None:
    """Block until this channel may send one more message.

    A rate under 1/s becomes one message per `1/rate` seconds (the sandbox's 1 per 3 s).
    """
    window = 1.0 if per_second >= 1 else 1.0 / max(per_second, 0.001)
    limit = max(1, math.floor(per_second * window))
    while True:
        now = time.time()
        slot = math.floor(now / window)
        key = f"send-rate:{channel_id}:{slot}"
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, math.ceil(window) + 1)
            count, _ = await pipe.execute()
        if int(count) <= limit:
            return
        await asyncio.sleep((slot + 1) * window - now + 0.001)
