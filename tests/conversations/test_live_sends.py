"""Every send, whatever its origin, reaches an open inbox live: they all go through
`conversations.send()`, which announces. Each origin is driven through its own public
surface and watched on `/api/v1/events`, as an integration would watch it."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg

from tests.conftest import LiveServer, StandinServer
from tests.support.documents import draft, vat_business
from tests.support.forms import api_headers, post_form
from tests.support.reminders import (
    approved_template,
    business_today,
    enable,
    invoice_due,
    run_now,
)
from tests.support.shop import send, shop_with_customer
from tests.support.sse import SseClient
from tests.support.whatsapp import connect_channel, conversation_with, customer_says


def outbound_created(events: SseClient, conversation_id: str) -> dict[str, Any]:
    """The next `message.created` for an outbound message in this conversation."""
    found = events.until(
        lambda e: (
            e["type"] == "message.created"
            and e.get("direction") == "outbound"
            and e["conversation_id"] == conversation_id
        ),
        timeout=20,
    )
    return found[-1][1]


def message_ids(client: httpx.Client, conversation_id: str) -> set[str]:
    page = client.get(f"/api/v1/conversations/{conversation_id}/messages").json()
    return {m["id"] for m in page["messages"] if m["direction"] == "outbound"}


def test_sends_from_the_inbox_the_api_a_document_and_a_quote_answer_appear_live(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    shop = shop_with_customer(client, standin)
    conversation_id = conversation_with(client, shop.phone)["id"]
    events = SseClient(live_server.url, client.cookies, path="/api/v1/events")
    try:
        # The inbox page's composer.
        page = post_form(
            client,
            f"/inbox/{conversation_id}/messages",
            {"body": "On our way"},
            csrf_page=f"/inbox/{conversation_id}",
        )
        assert page.status_code == 303, page.text[:300]
        from_page = outbound_created(events, conversation_id)

        # The JSON API.
        api = client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": "Running 10 minutes late"},
            headers=shop.headers,
        )
        assert api.status_code == 202, api.text
        from_api = outbound_created(events, conversation_id)
        assert from_api["message_id"] == api.json()["id"]

        # A quote sent on WhatsApp (the window is open: the PDF goes as a document).
        quote = draft(client, shop.headers, phone=shop.phone)
        sent = send(shop, "quotes", quote["id"])
        assert sent.status_code == 202, sent.text
        from_document = outbound_created(events, conversation_id)
        assert from_document["message_id"] == sent.json()["message_id"]

        # The customer answers ACCEPT; the system's confirmation is a send like any other.
        customer_says(standin, shop.channel, shop.phone, "ACCEPT")
        live_server.run_jobs()
        from_answer = outbound_created(events, conversation_id)
    finally:
        events.close()
    sent_ids = {e["message_id"] for e in (from_page, from_api, from_document, from_answer)}
    assert len(sent_ids) == 4
    assert sent_ids <= message_ids(client, conversation_id)


def test_a_payment_reminder_appears_live(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    _, headers = vat_business(client)
    connect_channel(client, standin)
    headers = api_headers(client)
    template = approved_template(client, headers, standin)
    invoice = invoice_due(client, headers, business_today(), "Lindiwe Reminded")
    assert enable(client, template["id"]).status_code == 303
    events = SseClient(live_server.url, client.cookies, path="/api/v1/events")
    try:
        run_now(client)
        live_server.run_jobs()
        conversation_id = conversation_with(client, invoice["phone"])["id"]
        reminded = outbound_created(events, conversation_id)
    finally:
        events.close()
    assert reminded["message_id"] in message_ids(client, conversation_id)
