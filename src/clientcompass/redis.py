"""The Redis client: sessions, throttles and real-time fan-out.

An outage must cost a request well under a second, not a hang: redis-py's default retries
ten times with a backoff of up to a second each (about 2.5 s, up to 5 s, per command while
Redis is down). Here a refused or dropped connection is tried four times within about 0.7 s,
which rides out a restart's dropped connections (each retry reconnects), and then gives up
with a ConnectionError, which the web app answers with a 503.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

CONNECT_TIMEOUT_SECONDS = 2
# Above the SSE reader's XREAD block (realtime/sse.py), so a quiet stream is not a dead one.
SOCKET_TIMEOUT_SECONDS = 5
RETRIES = 3
# What a Redis outage surfaces as, for exception handlers keyed by type.
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)


def create_redis(url: str) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        health_check_interval=30,
        # Only a refused or dropped connection is retried (fast); a timeout already waited.
        retry=Retry(
            ExponentialWithJitterBackoff(base=0.05, cap=0.5),
            RETRIES,
            supported_errors=(RedisConnectionError,),
        ),
    )


def redis_unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) means Redis cannot be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, REDIS_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
