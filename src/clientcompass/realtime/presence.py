"""Who is looking at a conversation right now: no push for what is already on their screen.

An inbox tab with a conversation open holds an SSE connection that names it
(`/inbox/events?viewing=<id>`). While connected, the connection keeps a member
`<user>:<connection>` in a Redis sorted set per conversation, scored by when it lapses; it
refreshes the score as it loops and removes itself when it ends. A process killed without
cleaning up leaves a member that lapses within `TTL_SECONDS`.
"""

from __future__ import annotations

import time
import uuid

from redis.asyncio import Redis

TTL_SECONDS = 45.0


def key(tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> str:
    return f"tenant:{tenant_id}:viewing:{conversation_id}"


class Viewing:
    """One SSE connection's presence on one conversation."""

    def __init__(
        self, redis: Redis, tenant_id: uuid.UUID, conversation_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        self.redis = redis
        self.key = key(tenant_id, conversation_id)
        self.member = f"{user_id}:{uuid.uuid4().hex}"
        self._refreshed = 0.0

    async def refresh(self) -> None:
        """Mark present for another TTL; cheap to call often (at most once per 10 s)."""
        now = time.time()
        if now - self._refreshed < 10.0:
            return
        self._refreshed = now
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.key, {self.member: now + TTL_SECONDS})
            pipe.zremrangebyscore(self.key, "-inf", now)
            pipe.expire(self.key, int(TTL_SECONDS) + 5)
            await pipe.execute()

    async def leave(self) -> None:
        await self.redis.zrem(self.key, self.member)


async def viewers(redis: Redis, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> set[uuid.UUID]:
    """The people with this conversation open now."""
    members = await redis.zrangebyscore(key(tenant_id, conversation_id), time.time(), "+inf")
    found: set[uuid.UUID] = set()
    for member in members:
        text = member.decode() if isinstance(member, bytes) else str(member)
        try:
            found.add(uuid.UUID(text.split(":", 1)[0]))
        except ValueError:
            continue
    return found
