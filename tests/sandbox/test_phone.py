"""The WhatsApp sandbox over HTTP: try the product end to end with no Twilio account.

A member plays the customer on the /sandbox phone; the business answers from the inbox;
the Twilio stand-in carries both ways with signed webhooks. (The browser journey is in
tests/browser/test_sandbox.py, provisioning in test_provision.py.)
"""

from __future__ import annotations

import re

import httpx

from tests.conftest import LiveServer, StandinServer, StartServer
from tests.support.accounts import invite_and_join, sign_up
from tests.support.forms import page_csrf, post_form
from tests.support.whatsapp import conversation_with

XSS = "<img src=x onerror=alert(1)>"


def test_sandbox_is_not_there_when_disabled(server_variant: StartServer) -> None:
    server = server_variant(sandbox=False)
    with httpx.Client(base_url=server.url, timeout=20) as client:
        sign_up(client)
        assert client.get("/sandbox").status_code == 404
        token = page_csrf(client, "/settings/whatsapp")
        assert client.post("/sandbox/connect", data={"csrf_token": token}).status_code == 404
        assert client.get("/__twilio/_control/senders").status_code == 404
        assert "Connect the sandbox" not in client.get("/settings/whatsapp").text
        assert client.get("/inbox").status_code == 200


def test_connecting_the_sandbox_wires_one_channel_and_the_phone_talks_to_the_inbox(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> None:
    sign_up(client)
    page = client.get("/sandbox")
    assert page.status_code == 200 and "Connect the sandbox" in page.text
    for _ in range(2):
        connected = post_form(client, "/sandbox/connect", {}, csrf_page="/settings/whatsapp")
        assert connected.status_code == 303 and connected.headers["location"] == "/sandbox"
    sandboxes = [c for c in client.get("/api/v1/channels").json() if c["is_sandbox"]]
    assert len(sandboxes) == 1
    [channel] = sandboxes
    [sender] = [
        s for s in standin.control("GET", "senders").json() if s["from"] == channel["whatsapp_from"]
    ]
    assert sender["inbound_url"] == channel["inbound_webhook_url"]
    assert sender["status_url"] == channel["status_callback_url"]
    assert "Connect the sandbox" not in client.get("/settings/whatsapp").text

    # The phone keeps this browser's customer in a cookie and sends as them.
    phone_page = client.get("/sandbox")
    customer = client.cookies.get("cc_sandbox_phone")
    assert customer and customer in phone_page.text
    empty = post_form(client, "/sandbox/send", {"body": "  "}, csrf_page="/sandbox")
    assert empty.status_code == 422 and "Type a message" in empty.text
    sent = post_form(client, "/sandbox/send", {"body": XSS}, csrf_page="/sandbox")
    assert sent.status_code == 303, sent.text[:300]
    shown = client.get("/sandbox/thread")
    assert XSS not in shown.text and "&lt;img src=x onerror=alert(1)&gt;" in shown.text
    version = re.search(r'data-version="(\w+)"', shown.text)
    assert (
        version and client.get("/sandbox/thread", params={"v": version.group(1)}).status_code == 204
    )

    conversation = conversation_with(client, customer)
    assert conversation["contact"]["profile_name"] == "Sandbox customer"
    inbox = client.get(f"/inbox/{conversation['id']}")
    assert inbox.status_code == 200
    assert XSS not in inbox.text and "&lt;img src=x onerror=alert(1)&gt;" in inbox.text

    # Another customer number starts another conversation.
    switched = client.get("/sandbox", params={"phone_number": "083 555 0101", "name": "Lerato"})
    assert switched.status_code == 303 and client.cookies.get("cc_sandbox_phone") == "+27835550101"
    bad = client.get("/sandbox", params={"phone_number": "12"})
    assert bad.status_code == 422


def test_agents_play_the_customer_but_only_managers_connect(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        invite_and_join(client, agent)
        assert agent.get("/sandbox").status_code == 200
        refused = post_form(agent, "/sandbox/connect", {}, csrf_page="/sandbox")
        assert refused.status_code == 403
