"""Retention metrics. The daily job runs in a worker, which has no /metrics of its own: it
counts in Redis and the web exports the counts (the pattern of metrics.py's send errors).

- `clientcompass_retention_deleted_total{rule}`: rows each rule has deleted;
- `clientcompass_retention_due_rows{rule}`: rows another job deletes (temporary media),
  due at the last run;
- `clientcompass_retention_last_run_timestamp_seconds`: when the last run finished, for an
  alert when retention stops running.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis as SyncRedis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError

from clientcompass.lifecycle.retention import Outcome

DELETED_KEY = "metrics:retention-deleted"
DUE_KEY = "metrics:retention-due"
LAST_RUN_KEY = "metrics:retention-last-run"


async def record(redis: AsyncRedis, outcomes: list[Outcome], finished: datetime) -> None:
    """Add a real run's counts (a dry run records nothing)."""
    async with redis.pipeline(transaction=True) as pipe:
        for outcome in outcomes:
            if outcome.rule.delete is None:
                pipe.hset(DUE_KEY, outcome.rule.name, outcome.count)
            else:
                pipe.hincrby(DELETED_KEY, outcome.rule.name, outcome.count)
        pipe.set(LAST_RUN_KEY, str(finished.timestamp()))
        await pipe.execute()


class RetentionCollector(Collector):
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        deleted = CounterMetricFamily(
            "clientcompass_retention_deleted", "Rows deleted by retention, by rule", labels=["rule"]
        )
        due = GaugeMetricFamily(
            "clientcompass_retention_due_rows",
            "Rows past their keeping period that another job deletes, at the last run",
            labels=["rule"],
        )
        try:
            with SyncRedis.from_url(self.redis_url, socket_timeout=1) as client:
                counts = client.hgetall(DELETED_KEY)
                pending = client.hgetall(DUE_KEY)
                last = client.get(LAST_RUN_KEY)
        except RedisError:
            counts, pending, last = {}, {}, None
        for rule, count in sorted(counts.items()):
            deleted.add_metric([rule.decode()], float(count))
        for rule, count in sorted(pending.items()):
            due.add_metric([rule.decode()], float(count))
        yield deleted
        yield due
        if last is not None:
            yield GaugeMetricFamily(
                "clientcompass_retention_last_run_timestamp_seconds",
                "When the retention job last finished (Unix time)",
                value=float(last),
            )


def watch(registry: CollectorRegistry, redis_url: str) -> None:
    """Export the counts on this web process's /metrics."""
    registry.register(RetentionCollector(redis_url))
