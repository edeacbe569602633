"""Writing to a contact first: free text only inside the 24-hour window, an approved template
any time, nothing left behind when a send is refused; the contact's page lists their quotes
and invoices."""

from __future__ import annotations

import httpx
import psycopg

from tests.conftest import LiveServer, StandinServer
from tests.support.documents import finalised, vat_business
from tests.support.forms import api_headers, post_form
from tests.support.reminders import approved_template
from tests.support.whatsapp import connect_channel, customer_says, sa_mobile, sent_to


def new_contact(client: httpx.Client, headers: dict[str, str], name: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/contacts", json={"phone": sa_mobile(), "name": name}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_contact_who_never_wrote_gets_a_template_and_free_text_is_refused(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    _, headers = vat_business(client)
    connect_channel(client, standin)
    headers = api_headers(client)
    contact = new_contact(client, headers, "Ayanda Cold")
    url = f"/api/v1/contacts/{contact['id']}/messages"

    refused = client.post(url, json={"text": "Hello!"}, headers=headers)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "window_closed"
    assert "approved template" in refused.json()["error"]["message"]
    left = owner_conn.execute(
        "select count(*) from conversations where contact_id = %s", (contact["id"],)
    ).fetchone()
    assert left == (0,), "a refused send leaves no conversation behind"

    template = approved_template(client, headers, standin)
    values = {"1": "Ayanda", "2": "INV-1", "3": "R 10,00", "4": "1 Dec", "5": "Us", "6": "x"}
    sent = client.post(
        url, json={"template": {"id": template["id"], "variables": values}}, headers=headers
    )
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "queued" and sent.json()["content_sid"]
    detail = client.get(f"/api/v1/contacts/{contact['id']}").json()
    assert len(detail["conversations"]) == 1


def test_inside_the_window_free_text_goes_and_another_tenant_cannot_write(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    vat_business(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Can you come today?")
    contact_id = next(c["id"] for c in client.get("/api/v1/contacts").json() if c["phone"] == phone)
    headers = api_headers(client)
    sent = client.post(
        f"/api/v1/contacts/{contact_id}/messages", json={"text": "Yes, at 3"}, headers=headers
    )
    assert sent.status_code == 202, sent.text
    with httpx.Client(base_url=live_server.url, timeout=20) as stranger:
        vat_business(stranger)
        theirs = stranger.post(
            f"/api/v1/contacts/{contact_id}/messages",
            json={"text": "Hijack"},
            headers=api_headers(stranger),
        )
    assert theirs.status_code == 404
    assert "Hijack" not in [m["body"] for m in sent_to(standin, phone)]


def test_the_contact_page_offers_messaging_and_lists_quotes_and_invoices(
    client: httpx.Client, standin: StandinServer
) -> None:
    _, headers = vat_business(client)
    phone = sa_mobile()
    quote = finalised(client, headers, phone=phone, name="Lwazi Documents")
    invoice = finalised(client, headers, "invoices", phone=phone, name="Lwazi Documents")
    page = client.get(f"/contacts/{quote['contact_id']}")
    assert page.status_code == 200
    assert quote["number"] in page.text and invoice["number"] in page.text
    assert "Connect WhatsApp" in page.text  # no number connected yet
    connect_channel(client, standin)
    opened = post_form(
        client, f"/contacts/{quote['contact_id']}/message", {}, csrf_page="/settings/account"
    )
    assert opened.status_code == 303 and opened.headers["location"].startswith("/inbox/")
    again = post_form(
        client, f"/contacts/{quote['contact_id']}/message", {}, csrf_page="/settings/account"
    )
    assert again.headers["location"] == opened.headers["location"], "one conversation"
    detail = client.get(f"/api/v1/contacts/{quote['contact_id']}").json()
    assert {d["number"] for d in detail["documents"]} == {quote["number"], invoice["number"]}
