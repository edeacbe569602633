"""Phone numbers read the way people know them (082 123 4567) on pages and PDFs, while the
API and the database keep E.164."""

from __future__ import annotations

import subprocess

import httpx

from tests.support.documents import finalised, vat_business
from tests.support.forms import api_headers


def test_pages_and_pdfs_show_the_national_form_and_the_api_keeps_e164(
    client: httpx.Client,
) -> None:
    _, headers = vat_business(client)  # the business's phone was typed as 082 123 4567
    created = client.post(
        "/api/v1/contacts",
        json={"phone": "+27 82 555 0199", "name": "Palesa Phone"},
        headers=api_headers(client),
    ).json()
    assert created["phone"] == "+27825550199"
    assert "082 555 0199" in client.get(f"/contacts/{created['id']}").text
    assert "082 555 0199" in client.get("/contacts").text
    invoice = finalised(client, headers, "invoices", phone="+27825550198")
    pdf = client.get(f"/api/v1/invoices/{invoice['id']}/pdf").content
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "082 123 4567" in text and "+27821234567" not in text
