"""A conversation's sends go one at a time (one procrastinate lock per conversation), and the
real worker starts the next as soon as one ends: it does not wait for its 5-second poll, which
nothing else would cut short (the next send's job was inserted long before)."""

from __future__ import annotations

import signal

import httpx

from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import sign_up
from tests.support.forms import api_headers
from tests.support.processes import start_worker
from tests.support.waiting import wait_for
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

REPLIES = 6
# Far below the 25 s (5 waits of 5 s) the chain took when each send waited for the worker's next poll,
# far above the second or so it takes.
WITHIN_SECONDS = 15


def test_a_conversations_queued_replies_follow_one_another_without_waiting_for_a_poll(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Hi, what are your rates?")
    conversation = conversation_with(client, phone)
    worker = start_worker(live_server.settings)
    try:
        for n in range(1, REPLIES + 1):
            answer = client.post(
                f"/api/v1/conversations/{conversation['id']}/messages",
                json={"text": f"Rates, part {n}"},
                headers=api_headers(client),
            )
            assert answer.status_code == 202, answer.text
        sent = wait_for(
            lambda: (b := _sent(standin, phone)) and len(b) == REPLIES and b,
            WITHIN_SECONDS,
            f"{REPLIES} replies in a row",
            every=0.1,
        )
        assert sent == [f"Rates, part {n}" for n in range(1, REPLIES + 1)]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)


def _sent(standin: StandinServer, phone: str) -> list[str] | None:
    messages = standin.control("GET", "messages", params={"to": f"whatsapp:{phone}"}).json()
    return [m["body"] for m in messages] if isinstance(messages, list) else None
