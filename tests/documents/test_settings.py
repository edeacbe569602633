"""Settings → Documents: rounding, number patterns and default days, owners and admins only."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from tests.conftest import LiveServer
from tests.support.accounts import invite_and_join
from tests.support.documents import draft, finalised, vat_business
from tests.support.forms import post_form

FORM = {
    "rounding": "per_document",
    "payment_terms_days": "14",
    "quote_validity_days": "10",
    "quote.prefix": "Q",
    "quote.separator": "/",
    "quote.padding": "3",
    "quote.include_year": "on",
    "invoice.prefix": "FAC-",
    "invoice.separator": "-",
    "invoice.padding": "5",
    "credit_note.prefix": "CN-",
    "credit_note.separator": "-",
    "credit_note.padding": "4",
    "credit_note.include_year": "on",
}


def save(client: httpx.Client, **changes: str) -> httpx.Response:
    return post_form(
        client, "/settings/documents", {**FORM, **changes}, csrf_page="/settings/documents"
    )


def test_saved_settings_shape_the_next_documents(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    page = client.get("/settings/documents")
    assert page.status_code == 200
    assert 'href="/settings/documents" class="active"' in page.text
    assert 'name="invoice.prefix" type="text" value="INV-"' in page.text  # the defaults
    assert "Payment reminders on WhatsApp" in page.text
    saved = save(client)
    assert saved.status_code == 303 and saved.headers["location"].endswith("saved=documents")
    shown = client.get(saved.headers["location"]).text
    assert "Document settings saved." in shown
    assert 'name="invoice.prefix" type="text" value="FAC-"' in shown
    assert 'data-testid="example-invoice">e.g. FAC-00001<' in shown

    invoice = finalised(client, headers, "invoices")
    assert invoice["number"] == "FAC-00001"
    assert invoice["rounding"] == "per_document"
    assert date.fromisoformat(invoice["due_date"]) == date.fromisoformat(
        invoice["issue_date"]
    ) + timedelta(days=14)
    quote = finalised(client, headers)
    assert quote["number"] == f"Q{date.fromisoformat(quote['issue_date']).year}/001"
    assert date.fromisoformat(quote["valid_until"]) == date.fromisoformat(
        quote["issue_date"]
    ) + timedelta(days=10)


def test_bad_values_are_shown_against_their_field_and_nothing_changes(
    client: httpx.Client,
) -> None:
    _, headers = vat_business(client)
    for changes, field, message in (
        ({"invoice.prefix": "IN V"}, "invoice.prefix", "Use up to 12 letters"),
        ({"quote.padding": "9"}, "quote.padding", "between 1 and 8 digits"),
        ({"quote.padding": "x"}, "quote.padding", "1 to 8"),
        ({"payment_terms_days": "400"}, "payment_terms_days", "from 0 to 365"),
        ({"payment_terms_days": "-1"}, "payment_terms_days", "whole number"),
        ({"rounding": "sometimes"}, "rounding", "how VAT is rounded"),
    ):
        response = save(client, **changes)
        assert response.status_code == 422, changes
        assert message in response.text, (changes, response.text[-2000:])
        assert 'aria-invalid="true"' in response.text or "has-error" in response.text
        assert field.split(".")[0] in response.text
    # Nothing was stored: the next invoice is numbered by the defaults.
    assert finalised(client, headers, "invoices")["number"].startswith("INV-")
    assert draft(client, headers, "invoices")["rounding"] == "per_line"


def test_agents_cannot_see_or_change_document_settings(
    client: httpx.Client, live_server: LiveServer
) -> None:
    vat_business(client)
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=20) as agent:
        invite_and_join(client, agent, role="agent")
        assert agent.get("/settings/documents").status_code == 403
        assert 'href="/settings/documents"' not in agent.get("/settings/account").text
        token = agent.get("/settings/account").text.split('name="csrf-token" content="')[1]
        token = token.split('"', 1)[0]
        for path in (
            "/settings/documents",
            "/settings/documents/reminders",
            "/settings/documents/reminders/run",
        ):
            response = agent.post(path, data={**FORM, "csrf_token": token})
            assert response.status_code == 403, path
    assert (
        'name="invoice.prefix" type="text" value="INV-"' in client.get("/settings/documents").text
    )
