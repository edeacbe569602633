"""What a new visitor meets first: the product page at `/`, the data-deletion notice with a
way back, and the business profile's time zone picked from a list."""

from __future__ import annotations

import re

import httpx

from tests.support.accounts import sign_up
from tests.support.forms import post_form

PROFILE = {
    "trading_name": "Mokoena Plumbing",
    "registered_name": "",
    "registration_number": "",
    "vat_number": "",
    "phone": "",
    "email": "",
    "physical_address": "",
    "postal_address": "",
    "default_vat_rate": "15",
    "default_quote_terms": "",
    "default_invoice_terms": "",
}


def test_a_visitor_gets_a_product_page_with_the_way_in(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    text = page.text
    for promise in ("WhatsApp inbox", "Contacts", "PDFs on WhatsApp", "sandbox"):
        assert promise in text, promise
    assert 'href="/signup"' in text and 'href="/login"' in text
    assert 'href="/deletion.html"' in text
    # Light: no scripts at all, and nothing from another site.
    assert "<script" not in text
    assert not re.search(r'(?:src|href)="(?:https?:)?//', text)


def test_a_signed_in_user_still_goes_to_the_inbox(client: httpx.Client) -> None:
    sign_up(client)
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/inbox"


def test_the_deletion_notice_names_the_company_right_and_leads_home(client: httpx.Client) -> None:
    page = client.get("/deletion.html")
    assert page.status_code == 200
    text = re.sub(r"<[^>]+>", "", page.text)
    assert "Client Compass Digital Solutions (Pty) Ltd" in text
    assert "Pty (Ltd)" not in text
    assert 'href="/"' in page.text


def option_value(attrs: str, label: str) -> str:
    value = re.search(r'value="([^"]+)"', attrs)
    return value.group(1) if value else label


def time_zone_select(html: str) -> str:
    match = re.search(r'<select[^>]*name="timezone".*?</select>', html, re.S)
    assert match, "the time zone is not a select"
    return match.group(0)


def test_the_time_zone_is_chosen_from_the_iana_zones_with_johannesburg_first(
    client: httpx.Client,
) -> None:
    sign_up(client)
    select = time_zone_select(client.get("/settings/business").text)
    options = re.findall(r"<option([^>]*)>([^<]*)</option>", select)
    values = [option_value(attrs, label) for attrs, label in options]
    assert values[0] == "Africa/Johannesburg" and "selected" in options[0][0]
    assert {"Europe/London", "Asia/Kolkata", "America/Sao_Paulo", "UTC"} <= set(values)
    assert len(values) == len(set(values)) > 300
    assert '<optgroup label="Africa">' in select

    saved = post_form(
        client,
        "/settings/business",
        {**PROFILE, "timezone": "Europe/London"},
        csrf_page="/settings/business",
    )
    assert saved.status_code == 303, saved.text[:500]
    select = time_zone_select(client.get("/settings/business").text)
    assert re.search(r"<option selected>Europe/London</option>", select)
    assert client.get("/api/v1/business/profile").json()["timezone"] == "Europe/London"

    refused = post_form(
        client,
        "/settings/business",
        {**PROFILE, "timezone": "Mars/Base"},
        csrf_page="/settings/business",
    )
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in time_zone_select(refused.text)
