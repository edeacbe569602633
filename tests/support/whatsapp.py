"""Factories for WhatsApp tests: a channel wired to the stand-in, a customer who writes."""

from __future__ import annotations

import random
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from tests.conftest import StandinServer
from tests.support import factories
from tests.support.forms import api_headers


def sa_mobile() -> str:
    return f"+2782{random.randint(1_000_000, 9_999_999)}"


def connect_channel(client: httpx.Client, standin: StandinServer) -> dict[str, Any]:
    """A WhatsApp sender of the signed-in member's business, its webhooks configured in the
    stand-in (set-up: stored by the channel service, as connecting it does)."""
    tenant_id, user_id = factories.signed_in_as(client)
    return factories.whatsapp_channel(
        factories.settings_of(client), standin, tenant_id, user_id, f"whatsapp:{sa_mobile()}"
    )


def connect_channel_through_the_api(client: httpx.Client, standin: StandinServer) -> dict[str, Any]:
    """Connect a WhatsApp sender through the API and configure its webhooks in the stand-in."""
    account = standin.control("POST", "accounts", json={}).json()
    response = client.post(
        "/api/v1/channels",
        json={
            "account_sid": account["account_sid"],
            "auth_token": account["auth_token"],
            "whatsapp_from": f"whatsapp:{sa_mobile()}",
        },
        headers=api_headers(client),
    )
    assert response.status_code == 201, response.text
    channel = response.json()
    standin.control(
        "POST",
        "senders",
        json={
            "account_sid": account["account_sid"],
            "from": channel["whatsapp_from"],
            "inbound_url": channel["inbound_webhook_url"],
            "status_url": channel["status_callback_url"],
        },
    )
    return {**channel, **account}


def customer_says(
    standin: StandinServer, channel: dict[str, Any], phone: str, body: str = "Hi", **extra: Any
) -> dict[str, Any]:
    result: dict[str, Any] = standin.control(
        "POST",
        "inbound",
        json={
            "to": channel["whatsapp_from"],
            "from": f"whatsapp:{phone}",
            "profile_name": "Sipho",
            "body": body,
            **extra,
        },
    ).json()
    return result


def signed_post(
    url: str, params: dict[str, str], auth_token: str, *, sign_url: str | None = None
) -> httpx.Response:
    """POST a form the way Twilio does, signed over `sign_url` (default: the URL posted to)."""
    signature = RequestValidator(auth_token).compute_signature(sign_url or url, params)
    return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def conversation_with(client: httpx.Client, phone: str) -> dict[str, Any]:
    for conversation in client.get("/api/v1/conversations").json():
        if conversation["contact"]["phone"] == phone:
            return conversation
    raise AssertionError(f"no conversation with {phone}")


def sent_to(standin: StandinServer, phone: str) -> list[dict[str, Any]]:
    """What the stand-in was asked to send to this customer, oldest first."""
    return standin.control("GET", "messages", params={"to": f"whatsapp:{phone}"}).json()  # type: ignore[no-any-return]
