"""The live event stream over real HTTP: what an SSE client receives, that it resumes with
Last-Event-ID without losing anything, that two app processes serve the same stream, and
that one tenant never hears another."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from clientcompass.config import Settings
from tests.conftest import LiveServer, StandinServer, free_port
from tests.support.accounts import sign_up
from tests.support.forms import api_headers, page_csrf
from tests.support.sse import SseClient
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile


@pytest.fixture
def second_server(settings: Settings) -> Iterator[LiveServer]:
    """Another app process's worth of state: its own app, pools and Redis clients."""
    port = free_port()
    other = settings.model_copy(update={"port": port, "public_base_url": settings.public_base_url})
    server = LiveServer(other)
    server.url = f"http://127.0.0.1:{port}"
    server.start()
    yield server
    server.stop()


def test_inbound_is_streamed_to_its_tenant_only_and_resumes_without_loss(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer, second_server: LiveServer
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        sign_up(other)
        theirs = SseClient(live_server.url, other.cookies)
    # The same tenant listens through a second app process: nothing is process-local.
    mine = SseClient(second_server.url, client.cookies)
    try:
        phone = sa_mobile()
        customer_says(standin, channel, phone, "Hello from the stream")
        first_id, first = mine.next()
        assert first["type"] == "message.created" and first["direction"] == "inbound"
        cid = conversation_with(client, phone)["id"]
        assert first["conversation_id"] == cid

        # Cut the connection; three things happen while nobody listens.
        mine.close()
        headers = api_headers(client)
        customer_says(standin, channel, phone, "Are you there?")
        client.post(f"/api/v1/conversations/{cid}/notes", json={"body": "n"}, headers=headers)
        client.post(
            f"/api/v1/conversations/{cid}/status", json={"status": "pending"}, headers=headers
        )

        resumed = SseClient(live_server.url, client.cookies, **{"Last-Event-ID": first_id})
        try:
            missed = resumed.until(lambda e: e["type"] == "conversation.status")
        finally:
            resumed.close()
        types = [e["type"] for _, e in missed]
        assert types == ["message.created", "conversation.note", "conversation.status"]
        assert all(e["conversation_id"] == cid for _, e in missed)
        ids = [first_id] + [i for i, _ in missed]
        assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split("-")))

        # The query parameter works the same (a page passes the stream position it was built at).
        again = SseClient(
            live_server.url, client.cookies, path=f"/inbox/events?last_event_id={first_id}"
        )
        try:
            assert [
                e["type"] for _, e in again.until(lambda e: e["type"] == "conversation.status")
            ] == types
        finally:
            again.close()
        assert theirs.events.empty(), "another tenant heard this tenant's events"
    finally:
        mine.close()
        theirs.close()


def test_the_stream_needs_a_login_and_takes_api_tokens(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as anonymous:
        assert anonymous.get("/api/v1/events").status_code == 401
        assert anonymous.get("/inbox/events").status_code == 303
    sign_up(client)
    channel = connect_channel(client, standin)
    response = client.post(
        "/settings/account/api-tokens",
        data={"name": "stream", "csrf_token": page_csrf(client, "/settings/account")},
    )
    assert response.status_code == 201
    token = response.text.split('aria-label="New API token"')[0].rsplit('value="', 1)[1]
    token = token.split('"', 1)[0]
    bearer = SseClient(
        live_server.url,
        httpx.Cookies(),
        path="/api/v1/events",
        Authorization=f"Bearer {token}",
    )
    try:
        assert bearer.status == 200
        customer_says(standin, channel, sa_mobile(), "Token listener")
        assert bearer.next()[1]["type"] == "message.created"
    finally:
        bearer.close()
