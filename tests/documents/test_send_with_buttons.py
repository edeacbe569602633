"""A quote on WhatsApp carries its PDF and tappable Accept / Decline in both cases: inside the
24-hour window as the number's answer card (session content, no approval needed), outside it
as the approved card template with a document header. Checked in what the stand-in received."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from clientcompass.twilio_client import TwilioClient, TwilioUnavailable
from tests.conftest import LiveServer, StandinServer
from tests.support.documents import draft
from tests.support.shop import (
    Shop,
    button_tap,
    close_window,
    send,
    shop_with_customer,
    thread,
    wait_until_approved,
)
from tests.support.waiting import wait_for
from tests.support.whatsapp import conversation_with, sent_to

PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def filled(text: str, variables: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def buttons(copy: dict[str, Any]) -> list[tuple[str, str]]:
    """The (title, id) of the quick replies the customer sees under a card."""
    spec = copy["content_types"]["twilio/card"]
    return [
        (action["title"], filled(action["id"], copy["content_variables"]))
        for action in spec["actions"]
        if action["type"] == "QUICK_REPLY"
    ]


def fetched_pdf(standin: StandinServer, phone: str, index: int = -1) -> dict[str, Any]:
    """The file the stand-in fetched for the message's header, once it has it."""
    [pdf] = wait_for(
        lambda: (m := sent_to(standin, phone)[index]["media"]) and m[0]["url"] and m,
        message="the stand-in fetching the PDF",
    )
    return pdf  # type: ignore[no-any-return]


def test_in_the_window_a_quote_is_one_message_with_its_pdf_and_accept_decline(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    shop = shop_with_customer(client, standin)
    quote = draft(client, shop.headers, phone=shop.phone)
    response = send(shop, "quotes", quote["id"])
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["via"] == "document" and result["template_id"] is None
    number = result["document"]["number"]

    live_server.run_jobs()
    [copy] = sent_to(standin, shop.phone)  # one message
    assert copy["content_type"] == "twilio/card" and copy["content_sid"]
    assert buttons(copy) == [
        ("Accept", f"accept:{quote['id']}"),
        ("Decline", f"decline:{quote['id']}"),
    ]
    assert copy["body"].startswith(f"Hi Nomvula, here is your quote {number} from Zoë's")
    assert "Tap Accept or Decline" in copy["body"] and "ACCEPT" not in copy["body"]
    # Its header is the quote's PDF, fetched from the app's signed media address.
    [media_url] = copy["media_urls"]
    assert media_url.startswith(f"{live_server.url}/m/")
    pdf = fetched_pdf(standin, shop.phone)
    assert pdf["content_type"] == "application/pdf" and pdf["filename"] == f"Quote-{number}.pdf"
    assert httpx.get(pdf["url"], timeout=10).content.startswith(b"%PDF-")
    # The text's link is the short one, and it opens the quote.
    link = copy["body"].rsplit(" ", 1)[1]
    assert link.startswith(f"{live_server.url}/d/") and len(urlsplit(link).path) < 45
    assert httpx.get(link, timeout=10).status_code == 200

    # The team sees one message with the PDF in the inbox, ticking as usual.
    conversation = conversation_with(client, shop.phone)
    [outbound] = [m for m in thread(client, conversation["id"]) if m["direction"] == "outbound"]
    assert outbound["id"] == result["message_id"]
    assert outbound["media"][0]["content_type"] == "application/pdf"
    assert outbound["body"].startswith("Hi Nomvula, here is your quote")
    wait_for(
        lambda: [
            m
            for m in thread(client, conversation["id"])
            if m["id"] == result["message_id"] and m["status"] in ("delivered", "read")
        ],
        message="delivery ticks",
    )

    # The card is made once per number and reused.
    second = draft(client, shop.headers, phone=shop.phone)
    assert send(shop, "quotes", second["id"]).status_code == 202
    live_server.run_jobs()
    first_copy, second_copy = sent_to(standin, shop.phone)
    assert second_copy["content_sid"] == first_copy["content_sid"]
    assert buttons(second_copy)[0] == ("Accept", f"accept:{second['id']}")
    account = standin.app.state.standin.accounts[shop.channel["account_sid"]]
    cards = [
        c
        for c in standin.app.state.standin.contents.values()
        if c.account_sid == account.sid and c.friendly_name == "cc_document_answer"
    ]
    assert len(cards) == 1


def test_tapping_accept_on_the_card_accepts_the_quote_once(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    shop = shop_with_customer(client, standin)
    quote = draft(client, shop.headers, phone=shop.phone)
    assert send(shop, "quotes", quote["id"]).status_code == 202
    live_server.run_jobs()
    [copy] = sent_to(standin, shop.phone)
    [(title, payload), _] = buttons(copy)
    assert button_tap(shop, shop.phone, payload, title).status_code == 200
    live_server.run_jobs()
    accepted = client.get(f"/api/v1/quotes/{quote['id']}").json()
    assert accepted["status"] == "accepted"
    assert accepted["events"][-1]["detail"] == {"via": "whatsapp"}
    assert button_tap(shop, shop.phone, payload, title).status_code == 200  # tapped again
    live_server.run_jobs()
    live_server.run_jobs()
    confirmations = [m for m in sent_to(standin, shop.phone) if "is accepted" in m["body"]]
    assert len(confirmations) == 1
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "accepted"


def test_outside_the_window_the_approved_card_template_carries_the_pdf_and_buttons(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    close_window(shop, standin, owner_conn)
    quote = draft(client, shop.headers, phone=shop.phone)
    created = client.post("/api/v1/quotes/send-template", headers=shop.headers)
    assert created.status_code == 201, created.text
    template = created.json()
    assert template["name"] == "quote_with_pdf"
    [stored] = [t for t in client.get("/api/v1/templates").json() if t["id"] == template["id"]]
    assert stored["kind"] == "card" and stored["media_url"] == f"{live_server.url}/m/{{{{6}}}}"
    content_sid = stored["content_sid"]
    auth = (shop.channel["account_sid"], shop.channel["auth_token"])
    content = httpx.get(f"{standin.url}/v1/Content/{content_sid}", auth=auth, timeout=10).json()
    card = content["types"]["twilio/card"]
    assert card["media"] == [f"{live_server.url}/m/{{{{6}}}}"]
    assert [a["id"] for a in card["actions"]] == ["accept:{{5}}", "decline:{{5}}"]
    # WhatsApp reviews a document header with its sample: a real PDF under the same prefix.
    assert content["variables"]["6"].endswith(".pdf")
    sample = httpx.get(f"{live_server.url}/m/{content['variables']['6']}", timeout=10)
    assert sample.status_code == 200 and sample.content.startswith(b"%PDF-")
    assert sample.headers["content-type"] == "application/pdf"
    wait_until_approved(standin, shop, content_sid)

    response = send(shop, "quotes", quote["id"])
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["via"] == "template" and result["template_id"] == template["id"]
    number = result["document"]["number"]
    live_server.run_jobs()
    [copy] = sent_to(standin, shop.phone)
    assert copy["content_sid"] == content_sid and copy["content_type"] == "twilio/card"
    assert copy["body"].startswith(f"Hi Nomvula, your quote {number} from Zoë's")
    assert buttons(copy) == [
        ("Accept", f"accept:{quote['id']}"),
        ("Decline", f"decline:{quote['id']}"),
    ]
    pdf = fetched_pdf(standin, shop.phone)
    assert pdf["content_type"] == "application/pdf" and pdf["filename"] == f"Quote-{number}.pdf"
    assert httpx.get(pdf["url"], timeout=10).content.startswith(b"%PDF-")
    # Delivered (an approved template escapes the closed window), and the PDF is in the inbox.
    conversation = conversation_with(client, shop.phone)
    wait_for(
        lambda: [
            m
            for m in thread(client, conversation["id"])
            if m["id"] == result["message_id"] and m["status"] in ("delivered", "read")
        ],
        message="delivery ticks",
    )
    [outbound] = [m for m in thread(client, conversation["id"]) if m["direction"] == "outbound"]
    assert outbound["media"][0]["content_type"] == "application/pdf"
    # The inbox's template picker does not offer it: its PDF header is the app's to fill.
    picker = client.get(f"/inbox/{conversation['id']}/composer").text
    assert 'data-testid="template-picker"' in picker and "quote_with_pdf" not in picker


def approved_quote_ready(shop: Shop, standin: StandinServer) -> dict[str, Any]:
    """The quick-reply template earlier versions suggested (buttons, no PDF), approved."""
    created = shop.client.post(
        "/api/v1/templates",
        headers=shop.headers,
        json={
            "name": "quote_ready",
            "category": "UTILITY",
            "kind": "quick_reply",
            "body": "Hi {{1}}, your quote {{2}} from {{3}} is ready: {{4}}\n\nTap Accept or Decline below.",
            "variables": {"1": "Sipho", "2": "QUO-1", "3": "Zoë's", "4": "Total R 1", "5": "x"},
            "actions": [
                {"title": "Accept", "id": "accept:{{5}}"},
                {"title": "Decline", "id": "decline:{{5}}"},
            ],
        },
    )
    assert created.status_code == 201, created.text
    template = created.json()
    submitted = shop.client.post(f"/api/v1/templates/{template['id']}/submit", headers=shop.headers)
    assert submitted.status_code == 200, submitted.text
    sid = submitted.json()["content_sid"]
    standin.control("POST", f"content/{sid}/approval", json={"status": "approved"})
    synced = shop.client.post(f"/api/v1/templates/{template['id']}/sync", headers=shop.headers)
    assert synced.json()["status"] == "approved", synced.text
    return synced.json()  # type: ignore[no-any-return]


def test_an_approved_old_quote_template_keeps_sending_until_the_new_one_is_approved(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    close_window(shop, standin, owner_conn)
    old = approved_quote_ready(shop, standin)
    tenant_id = client.get("/api/v1/me").json()["tenant_id"]
    owner_conn.execute(
        "insert into tenant_settings (tenant_id, key, value) "
        "values (%s, 'documents.send_template.quote', to_jsonb(%s::text))",
        (tenant_id, old["id"]),
    )
    # The business takes the new suggestion; WhatsApp has not reviewed it yet.
    state = standin.app.state.standin
    state.auto_progress = False
    try:
        created = client.post("/api/v1/quotes/send-template", headers=shop.headers)
    finally:
        state.auto_progress = True
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["name"] == "quote_with_pdf" and new["status"] == "pending"

    first = draft(client, shop.headers, phone=shop.phone)
    response = send(shop, "quotes", first["id"])
    assert response.status_code == 202, response.text
    assert response.json()["template_id"] == old["id"]
    live_server.run_jobs()
    [copy] = sent_to(standin, shop.phone)
    assert (
        copy["content_sid"] == old["content_sid"] and copy["content_type"] == "twilio/quick-reply"
    )
    assert copy["media_urls"] == []

    # Once WhatsApp approves the new one, quotes go with their PDF.
    [stored] = [t for t in client.get("/api/v1/templates").json() if t["id"] == new["id"]]
    standin.control(
        "POST", f"content/{stored['content_sid']}/approval", json={"status": "approved"}
    )
    second = draft(client, shop.headers, phone=shop.phone)
    response = send(shop, "quotes", second["id"])
    assert response.status_code == 202, response.text
    assert response.json()["template_id"] == new["id"]
    live_server.run_jobs()
    copy = sent_to(standin, shop.phone)[-1]
    assert copy["content_type"] == "twilio/card"
    assert buttons(copy)[0] == ("Accept", f"accept:{second['id']}")
    assert fetched_pdf(standin, shop.phone)["content_type"] == "application/pdf"


def test_when_twilio_cannot_make_the_card_the_quote_still_goes_and_the_next_has_buttons(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = shop_with_customer(client, standin)

    async def unreachable(*_: object) -> dict[str, Any]:
        raise TwilioUnavailable("connection refused")

    monkeypatch.setattr(TwilioClient, "create_content", unreachable)
    first = draft(client, shop.headers, phone=shop.phone)
    assert send(shop, "quotes", first["id"]).status_code == 202
    live_server.run_jobs()
    [copy] = sent_to(standin, shop.phone)
    assert copy["content_sid"] is None and "Reply ACCEPT or DECLINE" in copy["body"]
    assert fetched_pdf(standin, shop.phone)["content_type"] == "application/pdf"

    monkeypatch.undo()
    second = draft(client, shop.headers, phone=shop.phone)
    assert send(shop, "quotes", second["id"]).status_code == 202
    live_server.run_jobs()
    copy = sent_to(standin, shop.phone)[-1]
    assert copy["content_type"] == "twilio/card"
    assert buttons(copy)[0] == ("Accept", f"accept:{second['id']}")
