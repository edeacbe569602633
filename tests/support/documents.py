"""Factories for documents tests: a VAT-registered business with banking details, drafts,
and the signed public link a customer opens."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from clientcompass import links
from clientcompass.config import Settings
from tests.support import factories
from tests.support.accounts import PASSWORD, Account, sign_up
from tests.support.forms import api_headers

PROFILE = {
    "trading_name": "Zoë's Electrical",
    "registered_name": "Zoë van der Walt Electrical (Pty) Ltd",
    "registration_number": "2019/123456/07",
    "vat_number": "4123456789",
    "physical_address": "11 Nepeta Street\nKraaifontein\n7570",
    "postal_address": "",
    "phone": "082 123 4567",
    "email": "accounts@zoe.co.za",
    "default_vat_rate": "15",
    "default_quote_terms": "Valid for 30 days.",
    "default_invoice_terms": "Payment due within 7 days.",
    "timezone": "Africa/Johannesburg",
}
BANKING = {
    "bank": "FNB",
    "account_holder": "Zoë van der Walt Electrical",
    "account_number": "62812345678",
    "branch_code": "250655",
    "account_type": "cheque",
    "password": PASSWORD,
}
THREE_LINES = [
    {"description": "Call-out fee", "quantity": "1", "unit_price": "450.00"},
    {"description": "Geyser element", "quantity": "2", "unit": "each", "unit_price": "389.99"},
    {
        "description": "Labour",
        "quantity": "2.5",
        "unit": "h",
        "unit_price": "520",
        "discount_kind": "percent",
        "discount_value": "10",
    },
]


def vat_business(client: httpx.Client) -> tuple[Account, dict[str, str]]:
    """Sign up a VAT-registered business with banking details; returns it and write headers."""
    account = sign_up(client)
    factories.business_profile(
        factories.settings_of(client), account.tenant_id, account.user_id, PROFILE, BANKING
    )
    return account, api_headers(client)


def draft(
    client: httpx.Client,
    headers: dict[str, str],
    collection: str = "quotes",
    *,
    name: str = "Nomvula Mthembu-Müller",
    phone: str = "+27825550101",
    lines: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "new_contact": {"name": name, "phone": phone},
        "billing_address": "5 Loop Street\nCape Town\n8001",
        "service_address": "12 Kloof Nek Road, Tamboerskloof",
        "job_description": "Replace geyser element",
        "lines": lines or THREE_LINES,
        **extra,
    }
    response = client.post(f"/api/v1/{collection}", json=body, headers=headers)
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def finalised(
    client: httpx.Client, headers: dict[str, str], collection: str = "quotes", **extra: Any
) -> dict[str, Any]:
    document = draft(client, headers, collection, **extra)
    response = client.post(f"/api/v1/{collection}/{document['id']}/finalise", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def quote_for(client: httpx.Client, **extra: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A finalised quote of a new VAT business (with its tenant id), and write headers."""
    _, headers = vat_business(client)
    return with_tenant(client, finalised(client, headers, **extra)), headers


def with_tenant(client: httpx.Client, document: dict[str, Any]) -> dict[str, Any]:
    me = client.get("/api/v1/me").json()
    return {**document, "tenant_id": me["tenant_id"]}


def token_for(settings: Settings, document: dict[str, Any], *, lifetime: int = 3600) -> str:
    """The signed token of the document's public link /d/{token}."""
    tenant = uuid.UUID(document["tenant_id"]) if "tenant_id" in document else None
    assert tenant is not None
    return links.sign(
        settings.secret_key, "document", tenant, uuid.UUID(document["id"]), lifetime=lifetime
    )
