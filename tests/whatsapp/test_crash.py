"""Crash test: accept 200 messages, kill -9 the worker part-way, restart it; every message
is sent exactly once (the stand-in counts)."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import time

import httpx
import psycopg

from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import Account, sign_up
from tests.support.forms import api_headers
from tests.support.processes import start_worker
from tests.support.waiting import wait_for
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

TOTAL = 200
# A worker without a heartbeat for this long is dead: its jobs go back in the queue when the
# next worker starts. (30 s by default, which the restart below would otherwise wait out
# until the every-minute check: the killed worker's send holds the conversation's lock.)
STALLED_AFTER_SECONDS = 2


def worker(live_server: LiveServer) -> subprocess.Popen[bytes]:
    """The real worker, sweeping stuck sends after a second and sending four at a time."""
    return start_worker(
        live_server.settings,
        WHATSAPP_SWEEP_AFTER_SECONDS="1",
        WORKER_CONCURRENCY="4",
        WORKER_STALLED_AFTER_SECONDS=str(STALLED_AFTER_SECONDS),
    )


def bodies_sent(standin: StandinServer, phone: str) -> list[str]:
    return [
        m["body"]
        for m in standin.control("GET", "messages", params={"to": f"whatsapp:{phone}"}).json()
    ]


def sent_by(process: subprocess.Popen[bytes], standin: StandinServer, phone: str) -> int:
    """How many sends the stand-in has had so far, while the worker is still running."""
    assert process.poll() is None, "the worker exited"
    return len(bodies_sent(standin, phone))


def pending(conn: psycopg.Connection, account: Account) -> int:
    """The business's outbound messages not yet handed to Twilio."""
    row = conn.execute(
        "select count(*) from messages where tenant_id = %s and direction = 'outbound' "
        "and status in ('queued', 'sending')",
        (account.tenant_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


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

    first = worker(live_server)
    try:
        wait_for(lambda: sent_by(first, standin, phone) >= 40, 60, "40 sends", every=0.02)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    sent_before_restart = len(bodies_sent(standin, phone))
    assert sent_before_restart < TOTAL, "the worker finished before it could be killed"
    time.sleep(STALLED_AFTER_SECONDS + 0.5)  # the dead worker's heartbeat is stale by now

    second = worker(live_server)
    try:
        wait_for(lambda: pending(owner_conn, account) == 0, 120, "an empty outbox", every=0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    counts = collections.Counter(bodies_sent(standin, phone))
    assert len(counts) == TOTAL, f"{TOTAL - len(counts)} messages never reached Twilio"
    assert max(counts.values()) == 1, f"sent twice: {[b for b, n in counts.items() if n > 1]}"
    linked = owner_conn.execute(
        "select count(distinct provider_sid) from messages where tenant_id = %s and direction = 'outbound'",
        (account.tenant_id,),
    ).fetchone()
    assert linked == (TOTAL,), "every row knows its Twilio sid"
