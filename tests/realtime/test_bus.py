"""Real-time events per tenant on Redis: published to the tenant's channel only, and kept in
its stream for clients that reconnect."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any

import httpx
import redis

from clientcompass.realtime.bus import Announcer, Event, stream_name
from clientcompass.redis import create_redis
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import sign_up
from tests.support.aio import run_async
from tests.support.waiting import wait_for
from tests.support.whatsapp import connect_channel, customer_says, sa_mobile


def listen(
    redis_url: str,
    channel: str,
    into: list[dict[str, Any]],
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    client = redis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    ready.set()
    while not stop.is_set():
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            into.append(json.loads(message["data"]))
    pubsub.close()
    client.close()


def test_a_new_message_is_published_to_its_tenant_only(
    live_server: LiveServer, standin: StandinServer, redis_url: str
) -> None:
    with httpx.Client(base_url=live_server.url) as a, httpx.Client(base_url=live_server.url) as b:
        tenant_a = sign_up(a).tenant_id
        tenant_b = sign_up(b).tenant_id
        channel = connect_channel(a, standin)
        heard_a: list[dict[str, Any]] = []
        heard_b: list[dict[str, Any]] = []
        stop = threading.Event()
        threads = []
        for tenant, heard in ((tenant_a, heard_a), (tenant_b, heard_b)):
            ready = threading.Event()
            thread = threading.Thread(
                target=listen,
                args=(redis_url, f"tenant:{tenant}:events", heard, ready, stop),
                daemon=True,
            )
            thread.start()
            ready.wait(5)
            threads.append(thread)
        try:
            customer_says(standin, channel, sa_mobile(), "Is anyone there?")
            wait_for(lambda: heard_a, 5, "the event on tenant A's channel", every=0.05)
        finally:
            stop.set()
            for thread in threads:
                thread.join(5)
        assert [event["type"] for event in heard_a] == ["message.created"]
        assert heard_a[0]["direction"] == "inbound" and heard_a[0]["conversation_id"]
        assert heard_b == []
        stream = redis.Redis.from_url(redis_url).xrange(f"tenant:{tenant_a}:stream")
        assert len(stream) == 1, "kept in the stream for clients that reconnect"


def test_closing_the_announcer_mid_batch_sends_everything_and_returns(redis_url: str) -> None:
    """A process shutting down (a worker, the web app) closes its announcer while a batch may
    be in flight. Cancelling the sender lost that batch, or, when redis-py swallowed the
    cancellation, left close() waiting forever: a test's worker hung that way."""
    tenant_id = uuid.uuid4()
    events = 3 * 500 + 7  # four batches (Announcer's max_batch is 500)

    async def scenario() -> int:
        client = create_redis(redis_url)
        announcer = Announcer(client)
        try:
            for i in range(events):
                announcer.announce(tenant_id, Event.MESSAGE_CREATED, n=i)
            await asyncio.sleep(0)  # the sender takes its first batch and is mid-flight
            await asyncio.wait_for(announcer.close(), timeout=30)
            # Closed, it still works: the next event starts a new sender.
            announcer.announce(tenant_id, Event.MESSAGE_CREATED, n=events)
            await asyncio.wait_for(announcer.drain(), timeout=30)
            await announcer.close()
            return int(await client.xlen(stream_name(tenant_id)))
        finally:
            await client.delete(stream_name(tenant_id))
            await client.aclose()

    assert run_async(scenario) == events + 1
