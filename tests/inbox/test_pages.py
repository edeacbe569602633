"""Inbox pages: what customers write is shown escaped, and a reply after the 24-hour window is
refused with the reason."""

from __future__ import annotations

import uuid

import httpx
import psycopg

from tests.conftest import StandinServer
from tests.support.accounts import sign_up
from tests.support.forms import post_form
from tests.support.whatsapp import connect_channel, conversation_with, customer_says

XSS = "<img src=x onerror=alert(1)>"


def test_inbox_escapes_what_customers_write(client: httpx.Client, standin: StandinServer) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = f"+2782{uuid.uuid4().int % 10_000_000:07d}"
    customer_says(standin, channel, phone, XSS, profile_name="<script>alert(2)</script>")
    conversation = conversation_with(client, phone)
    for path in ("/inbox", "/inbox/rows", f"/inbox/{conversation['id']}"):
        html = client.get(path).text
        assert XSS not in html and "<script>alert(2)" not in html, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, path
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html, path
    # Opening the conversation marks it read.
    assert conversation["unread_count"] == 1
    assert conversation_with(client, phone)["unread_count"] == 0


def test_a_reply_outside_the_window_is_refused_with_the_reason(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = f"+2782{uuid.uuid4().int % 10_000_000:07d}"
    customer_says(standin, channel, phone, "Are you open on Sunday?")
    conversation = conversation_with(client, phone)
    owner_conn.execute(
        "update conversations set last_inbound_at = now() - interval '25 hours' where id = %s",
        (conversation["id"],),
    )
    path = f"/inbox/{conversation['id']}"
    refused = post_form(client, f"{path}/messages", {"body": "Yes, 9 to 1"}, csrf_page=path)
    assert refused.status_code == 422
    assert "24-hour window closed" in refused.text
    assert "Yes, 9 to 1</textarea>" in refused.text
    assert "Window closed" in refused.text
    messages = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    assert [m["direction"] for m in messages["messages"]] == ["inbound"]
