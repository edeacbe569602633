"""Sending quotes and invoices on WhatsApp through the Twilio stand-in: the PDF inside the
24-hour window, an approved template outside it, and a clear refusal when there is none."""

from __future__ import annotations

import httpx
import psycopg

from clientcompass import links
from clientcompass.documents import public
from tests.conftest import LiveServer, StandinServer
from tests.support.documents import draft, vat_business
from tests.support.shop import close_window, send, shop_with_customer, thread, wait_until_approved
from tests.support.waiting import wait_for
from tests.support.whatsapp import connect_channel, conversation_with, sa_mobile, sent_to


def test_open_window_sends_the_pdf_with_a_short_message_and_the_answer_buttons(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    shop = shop_with_customer(client, standin)
    quote = draft(client, shop.headers, phone=shop.phone)
    response = send(shop, "quotes", quote["id"])
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["via"] == "document" and result["template_id"] is None
    document = result["document"]
    assert document["status"] == "sent" and document["number"].startswith("QUO-")
    assert [e["kind"] for e in document["events"]][-2:] == ["finalised", "sent"]
    assert document["events"][-1]["detail"]["message_id"] == result["message_id"]

    live_server.run_jobs()
    [twilio_copy] = sent_to(standin, shop.phone)
    body = twilio_copy["body"]
    assert body.startswith(f"Hi Nomvula, here is your quote {document['number']} from Zoë's")
    assert "Tap Accept or Decline below, or view it online" in body
    assert f"{live_server.url}/d/" in body
    token = body.rsplit("/d/", 1)[1].strip()
    granted = links.read_short(live_server.settings.secret_key, public.PURPOSE, token)
    assert granted is not None and str(granted) == quote["id"]
    [pdf] = wait_for(
        lambda: (m := sent_to(standin, shop.phone)[0]["media"]) and m[0]["url"] and m,
        message="the stand-in fetching the PDF",
    )
    assert pdf["content_type"] == "application/pdf"
    assert httpx.get(pdf["url"], timeout=10).content.startswith(b"%PDF-")

    # The send is a normal message in the conversation, with its ticks.
    conversation = conversation_with(client, shop.phone)
    outbound = [m for m in thread(client, conversation["id"]) if m["direction"] == "outbound"]
    assert [m["id"] for m in outbound] == [result["message_id"]]
    assert outbound[0]["media"][0]["content_type"] == "application/pdf"
    wait_for(
        lambda: [
            m
            for m in thread(client, conversation["id"])
            if m["id"] == result["message_id"] and m["status"] in ("delivered", "read")
        ],
        message="delivery ticks",
    )


def test_invoice_goes_with_its_amount_due_and_payment_reference(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    shop = shop_with_customer(client, standin)
    invoice = draft(client, shop.headers, "invoices", phone=shop.phone)
    response = send(shop, "invoices", invoice["id"])
    assert response.status_code == 202, response.text
    number = response.json()["document"]["number"]
    live_server.run_jobs()
    [twilio_copy] = sent_to(standin, shop.phone)
    assert f"here is your invoice {number}" in twilio_copy["body"]
    assert f"use {number} as the payment reference" in twilio_copy["body"]


def test_closed_window_without_an_approved_template_is_refused_and_nothing_is_queued(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    close_window(shop, standin, owner_conn)
    quote = draft(client, shop.headers, phone=shop.phone)
    refused = send(shop, "quotes", quote["id"])
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "no_approved_template"
    assert (
        "window is closed" in error["message"]
        and "Create the suggested template" in error["message"]
    )
    # Nothing changed: still a draft without a number, and nothing is queued.
    again = client.get(f"/api/v1/quotes/{quote['id']}").json()
    assert again["status"] == "draft" and again["number"] is None
    conversation = conversation_with(client, shop.phone)
    assert [m["direction"] for m in thread(client, conversation["id"])] == ["inbound"]
    live_server.run_jobs()
    assert sent_to(standin, shop.phone) == []


def test_closed_window_sends_the_suggested_template_once_approved(
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
    assert template["name"] == "quote_with_pdf" and template["status"] in ("pending", "approved")
    # One click again reuses it instead of creating a second template.
    assert (
        client.post("/api/v1/quotes/send-template", headers=shop.headers).json()["id"]
        == (template["id"])
    )
    [stored] = [t for t in client.get("/api/v1/templates").json() if t["id"] == template["id"]]
    content_sid = stored["content_sid"]
    wait_until_approved(standin, shop, content_sid)
    # Sending checks a pending template with Twilio, so it goes out as soon as it is approved.
    response = send(shop, "quotes", quote["id"])
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["via"] == "template" and result["template_id"] == template["id"]
    number = result["document"]["number"]
    live_server.run_jobs()
    [twilio_copy] = sent_to(standin, shop.phone)
    assert twilio_copy["content_sid"] == content_sid
    variables = twilio_copy["content_variables"]
    assert variables["1"] == "Nomvula" and variables["2"] == number
    assert variables["5"] == quote["id"]  # the Accept/Decline buttons name this quote
    assert twilio_copy["body"].startswith(f"Hi Nomvula, your quote {number} from Zoë's")
    conversation = conversation_with(client, shop.phone)
    [outbound] = [m for m in thread(client, conversation["id"]) if m["direction"] == "outbound"]
    assert outbound["content_sid"] == content_sid and outbound["body"].startswith("Hi Nomvula")


def test_without_whatsapp_the_error_says_to_connect_it(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    quote = draft(client, headers)
    response = client.post(f"/api/v1/quotes/{quote['id']}/send", headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "whatsapp_not_connected"
    assert "Settings → WhatsApp" in error["message"]
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "draft"


def test_a_customer_who_never_wrote_needs_a_template_and_nothing_is_left(
    client: httpx.Client, standin: StandinServer
) -> None:
    _, headers = vat_business(client)
    connect_channel(client, standin)
    phone = sa_mobile()
    quote = draft(client, headers, phone=phone)
    refused = client.post(f"/api/v1/quotes/{quote['id']}/send", headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "no_approved_template"
    # The refusal rolled back: no empty conversation was left behind.
    assert all(c["contact"]["phone"] != phone for c in client.get("/api/v1/conversations").json())
