"""Factories for payment-reminder tests: an approved template, invoices falling due, and
the reminder settings switched on."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from tests.conftest import StandinServer
from tests.support.documents import draft
from tests.support.forms import post_form
from tests.support.whatsapp import sa_mobile

BODY = (
    "Hi {{1}}, a reminder that invoice {{2}} for {{3}} is due on {{4}}. "
    "From {{5}}: {{6}} Thank you."
)
SAMPLES = {
    "1": "Sipho",
    "2": "INV-2026-0001",
    "3": "R 1 000,00",
    "4": "30 Nov 2026",
    "5": "Zoë's Electrical",
    "6": "https://example.com/d/abc",
}


def business_today() -> date:
    return datetime.now(ZoneInfo("Africa/Johannesburg")).date()


def approved_template(
    client: httpx.Client, headers: dict[str, str], standin: StandinServer, body: str = BODY
) -> dict[str, Any]:
    samples = {k: v for k, v in SAMPLES.items() if "{{" + k + "}}" in body}
    created = client.post(
        "/api/v1/templates",
        json={
            "name": f"payment_reminder_{sa_mobile()[-6:]}",
            "category": "UTILITY",
            "body": body,
            "variables": samples,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    template = client.post(f"/api/v1/templates/{created.json()['id']}/submit", headers=headers)
    assert template.status_code == 200, template.text
    sid = template.json()["content_sid"]
    standin.control("POST", f"content/{sid}/approval", json={"status": "approved"})
    synced = client.post(f"/api/v1/templates/{created.json()['id']}/sync", headers=headers).json()
    assert synced["status"] == "approved"
    return synced  # type: ignore[no-any-return]


def invoice_due(
    client: httpx.Client, headers: dict[str, str], due: date, name: str
) -> dict[str, Any]:
    phone = sa_mobile()
    issued = min(due, business_today())
    document = draft(
        client,
        headers,
        "invoices",
        name=name,
        phone=phone,
        issue_date=issued.isoformat(),
        due_date=due.isoformat(),
    )
    response = client.post(f"/api/v1/invoices/{document['id']}/finalise", headers=headers)
    assert response.status_code == 200, response.text
    return {**response.json(), "phone": phone}


def enable(client: httpx.Client, template_id: str, **fields: str) -> httpx.Response:
    values = {
        "enabled": "on",
        "days_before": "3",
        "on_due_date": "on",
        "days_after": "2",
        "template_id": template_id,
        **fields,
    }
    return post_form(
        client, "/settings/documents/reminders", values, csrf_page="/settings/documents"
    )


def run_now(client: httpx.Client) -> None:
    response = post_form(
        client, "/settings/documents/reminders/run", {}, csrf_page="/settings/documents"
    )
    assert response.status_code == 303, response.text[:500]
