"""Two businesses for the attack sweeps: a victim with one of every kind of object, and an
attacker (signed in, with an API token) who must never reach, change or see any of them."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clientcompass.accounts import service as accounts
from clientcompass.auth import tokens
from clientcompass.notifications import subscriptions
from tests.conftest import LiveServer, StandinServer
from tests.support import factories
from tests.support.accounts import Account, invite_and_join, sign_up
from tests.support.contacts import many_rows
from tests.support.documents import draft, finalised, vat_business
from tests.support.forms import api_headers
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

# The smallest real PNG: the upload checks the bytes are what the name says.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a0e2b3a90000000049454e44ae426082"
)


# Kinds whose values are small ordinal numbers, used in paths but not searched for in answers.
ORDINAL_KINDS = {"flow_version"}


@dataclass
class Tenant:
    """A business, its owner signed in on `client`, and an API token of that owner."""

    client: httpx.Client
    account: Account
    token: str
    # Kind of object (contact, document, …) → ids of this business's objects of that kind.
    ids: dict[str, list[str]] = field(default_factory=dict)
    # Words only this business's data contains: names, phone numbers, emails.
    secrets: list[str] = field(default_factory=list)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def renew(self) -> None:
        """A new session and API token, after a route under test ended the old ones."""
        factories.sign_in(self.client, self.account)
        self.token = api_token(self.account, self.client)[0]

    def add(self, kind: str, *values: Any) -> None:
        self.ids.setdefault(kind, []).extend(str(value) for value in values)

    def all_ids(self) -> set[str]:
        """The ids that identify an object by themselves: a flow's version number ("1") means
        something only with the flow's id, which is searched for already."""
        return {
            value
            for kind, values in self.ids.items()
            if kind not in ORDINAL_KINDS
            for value in values
        }


def api_token(account: Account, settings_client: httpx.Client) -> tuple[str, str]:
    """A personal API token of the account's user (set-up: through the token service)."""

    async def issue(services: factories.Services) -> tuple[str, str]:
        async with services.unit_of_work(account.tenant_id) as uow:
            user = await accounts.get_user(uow, account.user_id)
            issued = await tokens.create_api_token(uow, user, name="sweep")
            return issued.token, str(issued.api_token.id)

    return factories.run(factories.settings_of(settings_client), issue)


def push_device(account: Account, settings_client: httpx.Client, label: str) -> str:
    """A device with push on for the account's user (set-up: through the service, so no
    test notification is queued to a push service that does not exist)."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )

    def b64url(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    async def add(services: factories.Services) -> str:
        async with services.unit_of_work(account.tenant_id) as uow:
            row = await subscriptions.subscribe(
                uow,
                services.keyring,
                account.user_id,
                endpoint=f"https://push.example.test/send/{uuid.uuid4().hex}",
                p256dh=b64url(point),
                auth=b64url(os.urandom(16)),
                user_agent="",
                label=label,
            )
            return str(row.id)

    return factories.run(factories.settings_of(settings_client), add)


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202), (response.request.url, response.text[:500])
    body: dict[str, Any] = response.json()
    return body


def populated_business(live_server: LiveServer, standin: StandinServer, label: str) -> Tenant:
    """A VAT business on WhatsApp with one of every kind of object the routes take an id of.
    Names and numbers carry a random mark, so finding one elsewhere is never a coincidence."""
    client = httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=30)
    mark = uuid.uuid4().hex[:8]
    account, headers = vat_business(client)
    token, token_id = api_token(account, client)
    tenant = Tenant(client, account, token)
    tenant.add("token", token_id)
    tenant.add("user", account.user_id)
    tenant.secrets += [account.email, account.business_name]

    with httpx.Client(base_url=live_server.url) as teammate:
        invite_and_join(client, teammate, role="agent")
    members = client.get("/api/v1/members").json()
    tenant.add("user", *(m["id"] for m in members if m["id"] != str(account.user_id)))
    tenant.secrets += [m["email"] for m in members]
    invitation = created(
        client.post(
            "/api/v1/invitations",
            json={"email": f"pending-{mark}@example.co.za", "role": "agent"},
            headers=headers,
        )
    )
    tenant.add("invitation", invitation["id"])
    tenant.secrets.append(f"pending-{mark}@example.co.za")

    channel = connect_channel(client, standin)
    tenant.add("channel", channel["id"])
    customer_phone = sa_mobile()
    customer_says(
        standin, channel, customer_phone, f"Leak check {mark}", profile_name=f"Xolani {label}{mark}"
    )
    conversation = conversation_with(client, customer_phone)
    tenant.add("conversation", conversation["id"])
    tenant.add("contact", conversation["contact"]["id"])
    tenant.secrets += [customer_phone, f"Xolani {label}{mark}", f"Leak check {mark}"]
    messages = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    tenant.add("message", *(m["id"] for m in messages["messages"]))
    created(
        client.post(
            f"/api/v1/conversations/{conversation['id']}/labels",
            json={"label": f"lbl{mark}"},
            headers=headers,
        )
    )
    tenant.add("label", f"lbl{mark}")
    note = created(
        client.post(
            f"/api/v1/conversations/{conversation['id']}/notes",
            json={"body": f"Private note {mark}"},
            headers=headers,
        )
    )
    tenant.add("note", note["id"])
    tenant.secrets.append(f"Private note {mark}")

    contact_phone = sa_mobile()
    contact = created(
        client.post(
            "/api/v1/contacts",
            json={
                "name": f"Nomvula {label}{mark}",
                "phone": contact_phone,
                "email": f"nomvula-{mark}@example.co.za",
            },
            headers=headers,
        )
    )
    tenant.add("contact", contact["id"])
    tenant.secrets += [contact_phone, f"Nomvula {label}{mark}", f"nomvula-{mark}@example.co.za"]
    lead = created(
        client.post(
            "/api/v1/leads",
            json={"contact_id": contact["id"], "service": f"Lead {label}{mark}"},
            headers=headers,
        )
    )
    tenant.add("lead", lead["id"])
    hook = created(
        client.post(
            "/api/v1/webhooks",
            json={
                "url": f"https://hooks.example.com/{label}{mark}",
                "events": ["lead.created"],
                "description": f"Hook {label}{mark}",
            },
            headers=headers,
        )
    )
    tenant.add("webhook", hook["id"])
    flow = created(
        client.post(
            "/api/v1/flows",
            json={"name": f"Flow {label}{mark}", "starter": "after-hours"},
            headers=headers,
        )
    )
    created(client.post(f"/api/v1/flows/{flow['id']}/publish", headers=headers))
    tenant.add("flow", flow["id"])
    tenant.add("flow_version", 1)
    tenant.secrets += [f"Hook {label}{mark}", hook["secret"]]

    quote_phone = sa_mobile()
    quote_name = f"Lindiwe {label}{mark}"
    tenant.secrets += [quote_phone, quote_name]
    quote = draft(client, headers, "quotes", name=quote_name, phone=quote_phone)
    issued_quote = finalised(client, headers, "quotes", contact_id=quote["contact_id"])
    invoice = finalised(client, headers, "invoices", contact_id=quote["contact_id"])
    credit_note = created(
        client.post(
            f"/api/v1/invoices/{invoice['id']}/credit-notes",
            json={"reason": f"Returned {mark}"},
            headers=headers,
        )
    )
    tenant.add("contact", quote["contact_id"])
    tenant.add("document", quote["id"], issued_quote["id"], invoice["id"], credit_note["id"])
    tenant.add("quotes", quote["id"], issued_quote["id"])
    tenant.add("invoices", invoice["id"])
    tenant.add("credit-notes", credit_note["id"])

    template = created(
        client.post(
            "/api/v1/templates",
            json={
                "name": f"sweep_{mark}",
                "category": "UTILITY",
                "body": "Hi {{1}}, your job is booked.",
                "variables": {"1": "Sipho"},
            },
            headers=headers,
        )
    )
    tenant.add("template", template["id"])
    canned = created(
        client.post(
            "/api/v1/canned-responses",
            json={"shortcut": f"c{mark}", "body": f"Canned {mark}"},
            headers=headers,
        )
    )
    tenant.add("canned", canned["id"])
    tenant.secrets.append(f"Canned {mark}")
    media = created(
        client.post(
            "/api/v1/media",
            files={"file": (f"photo-{mark}.png", PNG, "image/png")},
            headers=headers,
        )
    )
    tenant.add("media", media["id"])
    # More rows than are imported in the request: this one waits, with an id to poll.
    rows = many_rows(501)
    pending = client.post(
        "/api/v1/contacts/import",
        files={"file": ("contacts.csv", rows.encode(), "text/csv")},
        headers=headers,
    )
    assert pending.status_code == 202, pending.text[:500]
    tenant.add("import", pending.json()["id"])
    tenant.add("subscription", push_device(account, client, f"Phone {label}{mark}"))
    tenant.secrets.append(f"Phone {label}{mark}")
    export = created(client.post("/api/v1/exports", json={"kind": "business"}, headers=headers))
    tenant.add("export", export["id"])
    return tenant


@pytest.fixture(scope="session")
def victim(live_server: LiveServer, standin: StandinServer) -> Iterator[Tenant]:
    """Business B: what the attacker must never reach."""
    tenant = populated_business(live_server, standin, "Victim")
    yield tenant
    tenant.client.close()


def attacker_business(live_server: LiveServer) -> Tenant:
    """Business A: signed in as its owner, with an API token, and a little data of its own."""
    client = httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=30)
    account = sign_up(client)
    token, token_id = api_token(account, client)
    tenant = Tenant(client, account, token)
    tenant.add("token", token_id)
    tenant.add("user", account.user_id)
    return tenant


@pytest.fixture
def attacker(live_server: LiveServer) -> Iterator[Tenant]:
    tenant = attacker_business(live_server)
    yield tenant
    tenant.client.close()


__all__ = ["PNG", "Tenant", "api_headers", "attacker_business", "populated_business"]
