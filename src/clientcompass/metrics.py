"""Prometheus metrics: request counts and latency by route template, and DB pool gauges."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis as SyncRedis
from redis.asyncio import Redis as AsyncRedis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PoolCollector(Collector):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.engine.sync_engine.pool
        if not isinstance(pool, QueuePool):
            return
        for name, doc, value in (
            ("db_pool_size", "Configured connections in the pool", pool.size()),
            ("db_pool_checked_out", "Connections in use", pool.checkedout()),
            ("db_pool_checked_in", "Idle connections", pool.checkedin()),
            ("db_pool_overflow", "Connections beyond the pool size", max(0, pool.overflow())),
        ):
            yield GaugeMetricFamily(f"clientcompass_{name}", doc, value=value)


SEND_ERRORS_KEY = "metrics:twilio-send-errors"


async def count_send_error(redis: AsyncRedis, code: int | None) -> None:
    """Workers have no /metrics of their own: they count in Redis and the web exports it."""
    await redis.hincrby(SEND_ERRORS_KEY, str(code or "none"), 1)


class SendErrorCollector(Collector):
    """`clientcompass_twilio_send_errors_total{code}`: errors Twilio gave the workers' sends."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "clientcompass_twilio_send_errors",
            "Twilio errors on sends, by error code",
            labels=["code"],
        )
        try:
            with SyncRedis.from_url(self.redis_url, socket_timeout=1) as client:
                counts = client.hgetall(SEND_ERRORS_KEY)
        except RedisError:
            counts = {}
        for code, count in sorted(counts.items()):
            family.add_metric([code.decode()], float(count))
        yield family


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "clientcompass_http_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "clientcompass_http_request_duration_seconds",
            "HTTP request latency by method, route template and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def watch_pool(self, engine: AsyncEngine) -> None:
        self.registry.register(PoolCollector(engine))

    def watch_send_errors(self, redis_url: str) -> None:
        self.registry.register(SendErrorCollector(redis_url))


class WhatsAppMetrics:
    """Inbound messages, outbound statuses, webhook latency, and Twilio errors by code."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.inbound = Counter(
            "clientcompass_whatsapp_inbound_messages_total",
            "Inbound WhatsApp messages (duplicate deliveries counted apart)",
            ["duplicate"],
            registry=registry,
        )
        self.outbound = Counter(
            "clientcompass_whatsapp_outbound_status_total",
            "Outbound message status callbacks by reported status",
            ["status"],
            registry=registry,
        )
        self.errors = Counter(
            "clientcompass_twilio_errors_total",
            "Twilio error codes seen",
            ["code"],
            registry=registry,
        )
        self.rejected = Counter(
            "clientcompass_webhook_rejected_total",
            "Webhooks refused (unknown channel or bad signature)",
            ["kind"],
            registry=registry,
        )
        self.latency = Histogram(
            "clientcompass_webhook_duration_seconds",
            "Time to verify, store and acknowledge a Twilio webhook",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def inbound_message(self, *, duplicate: bool) -> None:
        self.inbound.labels("true" if duplicate else "false").inc()

    def outbound_status(self, status: str, error_code: str) -> None:
        self.outbound.labels(status or "unknown").inc()
        if error_code:
            self.errors.labels(error_code).inc()

    def twilio_error(self, code: int | None) -> None:
        self.errors.labels(str(code or "none")).inc()

    def webhook_rejected(self, kind: str) -> None:
        self.rejected.labels(kind).inc()

    def webhook_latency(self, kind: str, seconds: float) -> None:
        self.latency.labels(kind).observe(seconds)
