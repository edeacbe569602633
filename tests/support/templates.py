"""WhatsApp templates: an owner with a channel, and templates drafted, submitted and
reviewed in the stand-in's Content API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import StandinServer
from tests.support.accounts import sign_up
from tests.support.forms import api_headers
from tests.support.waiting import wait_for
from tests.support.whatsapp import connect_channel


@dataclass
class Owner:
    client: httpx.Client
    channel: dict[str, Any]
    headers: dict[str, str]

    @property
    def twilio_auth(self) -> tuple[str, str]:
        return (self.channel["account_sid"], self.channel["auth_token"])


def owner_with_channel(client: httpx.Client, standin: StandinServer) -> Owner:
    sign_up(client)
    channel = connect_channel(client, standin)
    return Owner(client, channel, api_headers(client))


def unique_name(prefix: str = "tpl") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def text_template(**extra: Any) -> dict[str, Any]:
    return {
        "name": unique_name("appointment_reminder"),
        "category": "UTILITY",
        "body": "Hi {{1}}, your appointment is on {{2}}. Reply if you need to change it.",
        "variables": {"1": "Sipho", "2": "12 March at 10:00"},
        **extra,
    }


def create(owner: Owner, payload: dict[str, Any]) -> httpx.Response:
    return owner.client.post("/api/v1/templates", json=payload, headers=owner.headers)


def created(owner: Owner, payload: dict[str, Any]) -> dict[str, Any]:
    response = create(owner, payload)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def action(owner: Owner, template_id: str, verb: str) -> httpx.Response:
    return owner.client.post(f"/api/v1/templates/{template_id}/{verb}", headers=owner.headers)


def submitted(owner: Owner, payload: dict[str, Any]) -> dict[str, Any]:
    template = created(owner, payload)
    response = action(owner, template["id"], "submit")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def standin_approval(standin: StandinServer, owner: Owner, sid: str) -> dict[str, Any]:
    response = httpx.get(
        f"{standin.url}/v1/Content/{sid}/ApprovalRequests", auth=owner.twilio_auth, timeout=10
    )
    response.raise_for_status()
    return response.json()["whatsapp"]  # type: ignore[no-any-return]


def wait_for_standin_verdict(standin: StandinServer, owner: Owner, sid: str) -> dict[str, Any]:
    """The stand-in plays Meta's review (received → pending → approved/rejected) in ~0.2 s."""

    def verdict() -> dict[str, Any] | None:
        approval = standin_approval(standin, owner, sid)
        return approval if approval["status"] in ("approved", "rejected") else None

    return wait_for(verdict, message="the stand-in's verdict")


def listed(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/api/v1/templates")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
