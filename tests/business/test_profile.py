"""The business profile and banking details, through the JSON API and the settings page."""

from __future__ import annotations

import httpx

from tests.support.accounts import PASSWORD, sign_up
from tests.support.forms import api_headers, page_csrf

PROFILE = {
    "trading_name": "Zoë's Electrical",
    "registered_name": "Zoë van der Walt Electrical (Pty) Ltd",
    "registration_number": "2019/123456/07",
    "vat_number": "4123 456 789",
    "physical_address": "11 Nepeta Street\nKraaifontein\n7570",
    "postal_address": "PO Box 1, Kraaifontein, 7570",
    "phone": "082 123 4567",
    "email": "accounts@zoe.co.za",
    "default_vat_rate": "15",
    "default_quote_terms": "Valid for 30 days.",
    "default_invoice_terms": "Payment due within 7 days.",
    "timezone": "Africa/Johannesburg",
}


def test_profile_update_normalises_and_persists(client: httpx.Client) -> None:
    sign_up(client)
    response = client.put("/api/v1/business/profile", json=PROFILE, headers=api_headers(client))
    assert response.status_code == 200, response.text
    saved = client.get("/api/v1/business/profile").json()
    assert saved["trading_name"] == "Zoë's Electrical"
    assert saved["vat_number"] == "4123456789"
    assert saved["phone"] == "+27821234567"
    assert saved["default_vat_rate"] == "15.00"
    assert client.get("/api/v1/me").json()["business_name"] == "Zoë's Electrical"


def test_invalid_profile_gives_422_per_field_and_changes_nothing(client: httpx.Client) -> None:
    sign_up(client)
    headers = api_headers(client)
    assert client.put("/api/v1/business/profile", json=PROFILE, headers=headers).status_code == 200
    bad = {
        **PROFILE,
        "trading_name": "Changed",
        "vat_number": "5123456789",
        "phone": "12",
        "timezone": "Mars/Base",
    }
    response = client.put("/api/v1/business/profile", json=bad, headers=headers)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert (
        error["fields"]["vat_number"]
        == "A South African VAT number has 10 digits and starts with 4."
    )
    assert "phone" in error["fields"] and "timezone" in error["fields"]
    assert client.get("/api/v1/business/profile").json()["trading_name"] == "Zoë's Electrical"


def test_profile_form_shows_errors_and_keeps_what_was_typed(client: httpx.Client) -> None:
    sign_up(client)
    token = page_csrf(client, "/settings/business")
    response = client.post(
        "/settings/business",
        data={**PROFILE, "vat_number": "123", "trading_name": "Typed Name", "csrf_token": token},
    )
    assert response.status_code == 422
    assert "10 digits and starts with 4" in response.text
    assert 'value="Typed Name"' in response.text
    assert client.get("/api/v1/business/profile").json()["trading_name"] != "Typed Name"


def test_logo_upload_accepts_png_and_refuses_other_files(client: httpx.Client) -> None:
    sign_up(client)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    fields = {k: v for k, v in PROFILE.items()}
    token = page_csrf(client, "/settings/business")
    bad = client.post(
        "/settings/business",
        data={**fields, "csrf_token": token},
        files={"logo": ("logo.svg", b"<svg onload=alert(1)>", "image/svg+xml")},
    )
    assert bad.status_code == 422 and "PNG or JPEG" in bad.text
    assert client.get("/settings/business/logo").status_code == 404
    good = client.post(
        "/settings/business",
        data={**fields, "csrf_token": token},
        files={"logo": ("logo.png", png, "image/png")},
    )
    assert good.status_code == 303
    logo = client.get("/settings/business/logo")
    assert logo.status_code == 200 and logo.content == png
    assert logo.headers["content-type"] == "image/png"


BANKING = {
    "bank": "Capitec",
    "account_holder": "Nomvula Mthembu-Müller",
    "account_number": "1234 5678 90",
    "branch_code": "470010",
    "account_type": "savings",
}


def test_banking_details_need_the_password_step_up(client: httpx.Client) -> None:
    sign_up(client)
    headers = api_headers(client)
    wrong = client.put(
        "/api/v1/business/banking-details",
        json={**BANKING, "password": "not my password"},
        headers=headers,
    )
    assert wrong.status_code == 422
    assert (
        wrong.json()["error"]["fields"]["current_password"] == "That is not your current password."
    )
    assert client.get("/api/v1/business/banking-details").status_code == 404
    missing = client.put("/api/v1/business/banking-details", json=BANKING, headers=headers)
    assert missing.status_code == 422 and "password" in missing.json()["error"]["fields"]
    ok = client.put(
        "/api/v1/business/banking-details", json={**BANKING, "password": PASSWORD}, headers=headers
    )
    assert ok.status_code == 204
    masked = client.get("/api/v1/business/banking-details").json()
    assert masked == {
        "bank": "Capitec",
        "account_holder": "Nomvula Mthembu-Müller",
        "account_number_last4": "7890",
        "branch_code": "470010",
        "account_type": "savings",
    }


def test_banking_form_rejects_bad_numbers_without_saving(client: httpx.Client) -> None:
    sign_up(client)
    token = page_csrf(client, "/settings/business")
    response = client.post(
        "/settings/business/banking",
        data={**BANKING, "branch_code": "47A010", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 422
    assert "Use digits only." in response.text
    assert client.get("/api/v1/business/banking-details").status_code == 404


def test_a_bad_logo_and_a_bad_field_are_both_reported_at_once(client: httpx.Client) -> None:
    """The logo error used to replace the others (or wait until they were fixed)."""
    sign_up(client)
    token = page_csrf(client, "/settings/business")
    both = client.post(
        "/settings/business",
        data={**PROFILE, "vat_number": "123", "csrf_token": token},
        files={"logo": ("logo.svg", b"<svg onload=alert(1)>", "image/svg+xml")},
    )
    assert both.status_code == 422
    assert "PNG or JPEG" in both.text
    assert "VAT number has 10 digits and starts with 4" in both.text
    assert client.get("/api/v1/business/profile").json()["vat_number"] != "123"
