"""Quotes and invoices pages over HTTP: the editor, its errors, live totals, lists and actions."""

from __future__ import annotations

import re

import httpx

from tests.conftest import LiveServer
from tests.support.accounts import PASSWORD, sign_up
from tests.support.documents import draft, finalised, vat_business
from tests.support.forms import page_csrf

NBSP = "\u00a0"


def editor_form(**extra: str) -> dict[str, str]:
    form = {
        "new_contact.name": "Zoë van der Walt",
        "new_contact.phone": "082 555 0199",
        "billing_address": "5 Loop Street\nCape Town",
        "service_address": "12 Kloof Nek Road",
        "job_description": "Replace geyser element",
        "price_mode": "exclusive",
        "lines.0.description": "Call-out fee",
        "lines.0.quantity": "1",
        "lines.0.unit_price": "450",
        "lines.0.vat": "standard",
        "lines.1.description": "Geyser element",
        "lines.1.quantity": "2",
        "lines.1.unit": "each",
        "lines.1.unit_price": "R 389,99",
        "lines.1.vat": "standard",
        "lines.5.description": "",
        "lines.5.unit_price": "",
        "terms": "Valid for 30 days.",
    }
    form.update(extra)
    return form


def post(client: httpx.Client, path: str, data: dict[str, str], csrf_page: str) -> httpx.Response:
    return client.post(path, data={**data, "csrf_token": page_csrf(client, csrf_page)})


def test_the_editor_creates_a_draft_and_shows_it(client: httpx.Client) -> None:
    vat_business(client)
    page = client.get("/quotes/new")
    assert page.status_code == 200
    assert 'name="terms"' in page.text and "Valid for 30 days." in page.text
    response = post(client, "/quotes", editor_form(), "/quotes/new")
    assert response.status_code == 303, response.text[:2000]
    location = response.headers["location"]
    assert re.fullmatch(r"/quotes/[0-9a-f-]{36}", location)
    shown = client.get(location)
    assert shown.status_code == 200
    assert 'data-status="draft"' in shown.text
    assert "Zoë van der Walt" in shown.text
    # 450 + 2 x 389.99 = 1229.98 excl. VAT; VAT per line 67.50 + 117.00 = 184.50.
    assert f"R{NBSP}1{NBSP}414,48" in shown.text
    listed = client.get("/quotes")
    assert "Zoë van der Walt" in listed.text and 'data-status="draft"' in listed.text


def test_a_bad_line_keeps_what_was_typed_and_stores_nothing(client: httpx.Client) -> None:
    vat_business(client)
    form = editor_form(**{"lines.1.quantity": "0", "job_description": "Keep <this> text"})
    response = post(client, "/quotes", form, "/quotes/new")
    assert response.status_code == 422
    assert "Line 2" in response.text or "lines.1.quantity" in response.text
    assert "Keep &lt;this&gt; text" in response.text  # typed text is back, escaped
    assert 'value="R 389,99"' in response.text
    assert client.get("/api/v1/quotes").json()["items"] == []


def test_missing_customer_is_reported_on_the_form(client: httpx.Client) -> None:
    vat_business(client)
    form = editor_form(**{"new_contact.name": "", "new_contact.phone": ""})
    response = post(client, "/invoices", form, "/invoices/new")
    assert response.status_code == 422
    assert "Choose a customer, or add a new one." in response.text


def test_live_totals_price_like_saving(client: httpx.Client) -> None:
    vat_business(client)
    response = post(client, "/documents/preview", editor_form(), "/quotes/new")
    assert response.status_code == 200
    assert f"R{NBSP}1{NBSP}414,48" in response.text
    bad = post(
        client, "/documents/preview", editor_form(**{"lines.1.quantity": "-1"}), "/quotes/new"
    )
    assert "Line 2" in bad.text


def test_add_line_without_javascript_reshows_the_form(client: httpx.Client) -> None:
    vat_business(client)
    response = post(client, "/quotes", editor_form(action="add_line"), "/quotes/new")
    assert response.status_code == 200
    assert response.text.count('data-testid="line-description"') == 3 + 1  # + the template
    assert client.get("/api/v1/quotes").json()["items"] == []


def test_page_actions_finalise_pay_and_credit(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    invoice = draft(client, headers, "invoices")
    path = f"/invoices/{invoice['id']}"
    done = post(client, f"{path}/finalise", {}, path)
    assert done.status_code == 303 and done.headers["location"].endswith("done=finalised")
    page = client.get(path)
    assert 'data-status="finalised"' in page.text and "INV-" in page.text
    too_much = post(client, f"{path}/payments", {"amount": "999999", "method": "eft"}, path)
    assert too_much.status_code == 422
    assert "more than the balance due" in too_much.text and 'value="999999"' in too_much.text
    paid = post(client, f"{path}/payments", {"amount": "100,00", "method": "cash"}, path)
    assert paid.status_code == 303
    assert client.get(f"/api/v1/invoices/{invoice['id']}").json()["status"] == "partially_paid"
    no_reason = post(client, f"{path}/credit-note", {"reason": "", "scope": "full"}, path)
    assert no_reason.status_code == 422
    credited = post(
        client,
        f"{path}/credit-note",
        {
            "reason": "Element not needed",
            "scope": "partial",
            "lines.0.description": "Geyser element returned",
            "lines.0.quantity": "1",
            "lines.0.unit_price": "100",
        },
        path,
    )
    assert credited.status_code == 303, credited.text[:1000]
    assert credited.headers["location"].startswith("/credit-notes/")
    note = client.get(credited.headers["location"].split("?")[0])
    assert note.status_code == 200 and "Element not needed" in note.text
    history = client.get(path).text
    assert "Payment of" in history and "Credit note CN-" in history


def test_lists_filter_by_status_and_show_totals(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    finalised(client, headers, "invoices")
    draft(client, headers, "invoices", phone="+27825550177", name="Ṱhivhulawi")
    page = client.get("/invoices", params={"status": "draft"})
    assert page.status_code == 200
    rows = page.text.split('id="doc-rows"', 1)[1]
    assert "Ṱhivhulawi" in rows and "Nomvula" not in rows
    assert 'data-testid="total-outstanding"' in page.text
    everything = client.get("/invoices").text.split('id="doc-rows"', 1)[1]
    assert "Ṱhivhulawi" in everything and "Nomvula" in everything


def test_another_business_cannot_open_the_page(
    client: httpx.Client, live_server: LiveServer
) -> None:
    _, headers = vat_business(client)
    quote = draft(client, headers)
    assert client.get(f"/quotes/{quote['id']}").status_code == 200
    with httpx.Client(base_url=live_server.url) as other:
        sign_up(other)
        assert other.get(f"/quotes/{quote['id']}").status_code == 404
        refused = post(other, f"/quotes/{quote['id']}/finalise", {}, "/quotes")
        assert refused.status_code == 404
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "draft"


def test_edit_duplicate_and_delete_a_draft(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    quote = draft(client, headers)
    path = f"/quotes/{quote['id']}"
    edit = client.get(f"{path}/edit")
    assert edit.status_code == 200
    assert "Replace geyser element" in edit.text and 'value="389.99"' in edit.text
    form = editor_form(contact_id=quote["contact_id"], job_description="Replace the whole geyser")
    saved = post(client, f"{path}/edit", form, f"{path}/edit")
    assert saved.status_code == 303 and saved.headers["location"] == path
    again = client.get(f"/api/v1/quotes/{quote['id']}").json()
    assert again["job_description"] == "Replace the whole geyser" and len(again["lines"]) == 2
    copy = post(client, f"{path}/duplicate", {}, path)
    assert copy.status_code == 303 and copy.headers["location"].endswith("done=duplicated")
    copy_path = copy.headers["location"].split("?")[0]
    assert copy_path != path
    gone = post(client, f"{copy_path}/delete", {"password": PASSWORD}, copy_path)
    assert gone.status_code == 303 and gone.headers["location"] == "/quotes"
    assert client.get(copy_path).status_code == 404
    # A finalised quote is neither edited nor deleted; the page says why.
    post(client, f"{path}/finalise", {}, path)
    assert client.get(f"{path}/edit").headers["location"] == path
    kept = post(client, f"{path}/delete", {"password": PASSWORD}, path)
    assert kept.status_code == 409 and "has a number, so it stays" in kept.text


def test_sending_from_the_page_without_whatsapp_says_what_to_do(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    quote = draft(client, headers)
    path = f"/quotes/{quote['id']}"
    assert "Settings → WhatsApp" in client.get(path).text
    refused = post(client, f"{path}/send", {}, path)
    assert refused.status_code == 422
    assert 'data-testid="send-error"' in refused.text and "Connect WhatsApp" in refused.text
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "draft"


def test_the_team_records_the_answer_and_converts_to_deposit_and_final(
    client: httpx.Client,
) -> None:
    _, headers = vat_business(client)
    quote = finalised(client, headers, deposit_percent="40")
    path = f"/quotes/{quote['id']}"
    accepted = post(client, f"{path}/accept", {}, path)
    assert accepted.status_code == 303
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "accepted"
    declined = post(client, f"{path}/decline", {}, path)
    assert declined.status_code == 409 and "accepted already" in declined.text
    converted = post(client, f"{path}/convert", {"split_deposit": "1"}, path)
    assert converted.status_code == 303
    assert converted.headers["location"].startswith("/invoices/")
    invoices = client.get("/api/v1/invoices").json()["items"]
    assert len(invoices) == 2
    assert sum(i["total_cents"] for i in invoices) == quote["total_cents"]
    page = client.get(path).text
    assert 'data-status="invoiced"' in page and "Turned into 2 invoices" in page


def test_the_list_pages_by_keyset_with_more(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    lines = [{"description": "Call-out", "unit_price": "100"}]
    for n in range(26):
        draft(client, headers, phone=f"+278255502{n:02d}", name=f"Customer {n}", lines=lines)
    first = client.get("/quotes")
    assert first.text.count('data-testid="document-row"') == 25
    more = re.search(r'hx-get="(/quotes\?cursor=[^"]+)"', first.text)
    assert more, "no More link"
    rest = client.get(more.group(1).replace("&amp;", "&"), headers={"hx-request": "true"})
    assert rest.status_code == 200 and "<html" not in rest.text
    assert rest.text.count('data-testid="document-row"') == 1
    assert 'data-testid="more"' not in rest.text
