"""Crash test: accept 200 messages, kill -9 the worker part-way, restart it; every message
is sent exactly once (the stand-in counts)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import httpx
import psycopg

from tests.conftest import LiveServer, StandinServer, settings_env
from tests.helpers import api_headers, sign_up
from tests.whatsapp_helpers import connect_channel, conversation_with, customer_says, sa_mobile

TOTAL = 200


def start_worker(live_server: LiveServer) -> subprocess.Popen[bytes]:
    env = settings_env(live_server.settings) | {
        "WHATSAPP_SWEEP_AFTER_SECONDS": "1",
        "WORKER_CONCURRENCY": "4",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "clientcompass", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def bodies_sent(standin: StandinServer, phone: str) -> list[str]:
    return [
        m["body"]
        for m in standin.control("GET", "messages", params={"to": f"whatsapp:{phone}"}).json()
    ]


def test_kill_9_mid_send_then_restart_sends_everything_exactly_once(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    account = sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Send me everything")
    conversation = conversation_with(client, phone)
    headers = api_headers(client)
    for i in range(TOTAL):
        response = client.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"text": f"crash test {i:03d}"},
            headers=headers,
        )
        assert response.status_code == 202
    assert bodies_sent(standin, phone) == [], "nothing leaves before a worker runs"

    worker = start_worker(live_server)
    try:
        deadline = time.monotonic() + 60
        while len(bodies_sent(standin, phone)) < 40:
            assert time.monotonic() < deadline and worker.poll() is None, (
                "the worker did not start sending"
            )
            time.sleep(0.02)
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    sent_before_restart = len(bodies_sent(standin, phone))
    assert sent_before_restart < TOTAL, "the worker finished before it could be killed"

    worker = start_worker(live_server)
    try:
        deadline = time.monotonic() + 120
        while True:
            pending = owner_conn.execute(
                "select count(*) from messages where tenant_id = %s and direction = 'outbound' "
                "and status in ('queued', 'sending')",
                (account.tenant_id,),
            ).fetchone()
            if pending == (0,):
                break
            assert time.monotonic() < deadline, f"still pending: {pending}"
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    counts = collections.Counter(bodies_sent(standin, phone))
    assert len(counts) == TOTAL, f"{TOTAL - len(counts)} messages never reached Twilio"
    assert max(counts.values()) == 1, f"sent twice: {[b for b, n in counts.items() if n > 1]}"
    linked = owner_conn.execute(
        "select count(distinct provider_sid) from messages where tenant_id = %s and direction = 'outbound'",
        (account.tenant_id,),
    ).fetchone()
    assert linked == (TOTAL,), "every row knows its Twilio sid"
