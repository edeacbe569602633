"""A customer answers a quote on WhatsApp: a quick-reply button (signed inbound webhook
carrying `ButtonPayload`) or a keyword. Forged payloads naming someone else's quote do nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg

from clientcompass.documents.quotes import Answer
from clientcompass.documents.replies import keyword, parse
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import sign_up
from tests.support.documents import draft
from tests.support.shop import Shop, button_tap, send, shop_with_customer, thread
from tests.support.whatsapp import (
    connect_channel,
    conversation_with,
    customer_says,
    sa_mobile,
    sent_to,
)


def sent_quote(shop: Shop, phone: str | None = None) -> dict[str, Any]:
    quote = draft(shop.client, shop.headers, phone=phone or shop.phone)
    response = send(shop, "quotes", quote["id"])
    assert response.status_code == 202, response.text
    return response.json()["document"]  # type: ignore[no-any-return]


def status_of(client: httpx.Client, quote: dict[str, Any]) -> str:
    return client.get(f"/api/v1/quotes/{quote['id']}").json()["status"]  # type: ignore[no-any-return]


def test_reading_answers_needs_no_database() -> None:
    assert keyword("ACCEPT") is Answer.ACCEPT and keyword("Yes, accept!") is Answer.ACCEPT
    assert keyword("decline.") is Answer.DECLINE
    assert keyword("I accept the terms but can you come Tuesday?") is None
    quote_id = uuid.uuid4()
    parsed = parse("Accept", f"accept:{quote_id}")
    assert parsed is not None and parsed.answer is Answer.ACCEPT and parsed.quote_id == quote_id
    assert parse("Yes please", "book_yes") is None  # another template's button
    assert parse("", f"decline:{quote_id}") is not None and parse("Hello", "") is None


def test_tapping_accept_accepts_the_quote_tells_the_team_and_confirms_once(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    quote = sent_quote(shop)
    live_server.run_jobs()
    assert button_tap(shop, shop.phone, f"accept:{quote['id']}").status_code == 200
    live_server.run_jobs()
    accepted = client.get(f"/api/v1/quotes/{quote['id']}").json()
    assert accepted["status"] == "accepted"
    assert accepted["events"][-1]["kind"] == "accepted"
    assert accepted["events"][-1]["detail"] == {"via": "whatsapp"}

    conversation = conversation_with(client, shop.phone)
    notes = client.get(f"/api/v1/conversations/{conversation['id']}/events").json()
    assert any(
        f"accepted quote {quote['number']} on WhatsApp" in (n.get("body") or "") for n in notes
    )
    live_server.run_jobs()
    confirmations = [m for m in sent_to(standin, shop.phone) if "is accepted" in m["body"]]
    assert len(confirmations) == 1
    assert confirmations[0]["body"].startswith(f"Thank you! Quote {quote['number']} is accepted.")

    # Tapping again (or Twilio redelivering under a new sid) changes nothing and says nothing.
    assert button_tap(shop, shop.phone, f"accept:{quote['id']}").status_code == 200
    live_server.run_jobs()
    live_server.run_jobs()
    assert status_of(client, quote) == "accepted"
    assert len([m for m in sent_to(standin, shop.phone) if "is accepted" in m["body"]]) == 1
    outbound = [m for m in thread(client, conversation["id"]) if m["direction"] == "outbound"]
    assert len(outbound) == 2  # the quote and one confirmation


def test_forged_payloads_naming_another_customers_or_businesss_quote_do_nothing(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    shop = shop_with_customer(client, standin)
    quote = sent_quote(shop)
    # Another customer of the same business names this quote.
    stranger = sa_mobile()
    customer_says(standin, shop.channel, stranger, "Hello")
    assert button_tap(shop, stranger, f"accept:{quote['id']}").status_code == 200
    live_server.run_jobs()
    assert status_of(client, quote) == "sent"

    # A customer of another business names it through that business's own number.
    with httpx.Client(base_url=live_server.url, timeout=20) as other_client:
        sign_up(other_client)
        other_channel = connect_channel(other_client, standin)
        other = Shop(other_client, {}, other_channel, sa_mobile())
        customer_says(standin, other_channel, other.phone, "Hi")
        assert button_tap(other, other.phone, f"accept:{quote['id']}").status_code == 200
        assert button_tap(other, other.phone, "accept").status_code == 200
        live_server.run_jobs()
    assert status_of(client, quote) == "sent"
    # Nobody but the customer was told anything.
    assert not [m for m in sent_to(standin, stranger) if "accepted" in m["body"]]

    # The real customer declines with a plain keyword: they have exactly one waiting quote.
    customer_says(standin, shop.channel, shop.phone, "Decline")
    live_server.run_jobs()
    assert status_of(client, quote) == "declined"


def test_a_keyword_is_ignored_when_two_quotes_wait(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    shop = shop_with_customer(client, standin)
    first = sent_quote(shop)
    second = sent_quote(shop)
    customer_says(standin, shop.channel, shop.phone, "ACCEPT")
    live_server.run_jobs()
    assert status_of(client, first) == "sent" and status_of(client, second) == "sent"
    # The button names the quote, so it works whatever else waits.
    assert button_tap(shop, shop.phone, f"accept:{second['id']}").status_code == 200
    live_server.run_jobs()
    assert status_of(client, first) == "sent" and status_of(client, second) == "accepted"
