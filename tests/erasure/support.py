"""A customer with a history in every place erasure reaches, and a search of the whole
database (every table, as the owner role) for what identifies them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
from psycopg import sql

from clientcompass.lifecycle.erasure import phone_forms
from clientcompass.phones import national
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import Account
from tests.support.documents import finalised, vat_business
from tests.support.shop import thread
from tests.support.waiting import wait_for
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile


@dataclass
class Customer:
    account: Account
    headers: dict[str, str]
    contact_id: str
    conversation_id: str
    phone: str
    name: str
    profile_name: str
    email: str
    invoice: dict[str, Any]
    quote: dict[str, Any]
    lead_id: str

    @property
    def needles(self) -> list[str]:
        """What must be gone: the phone in its E.164 and national forms, the names, email."""
        return [*phone_forms(self.phone), self.name, self.profile_name, self.email]


def customer_with_history(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> Customer:
    """A VAT business on WhatsApp and a customer who wrote, opted out of marketing, got a
    reply, a note, a lead, a quote and a tax invoice."""
    account, headers = vat_business(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    mark = uuid.uuid4().hex[:8]
    profile_name = f"Lindiwe{mark}"
    name = f"Nomvula Erasable{mark}"
    email = f"nomvula-{mark}@example.co.za"
    # A lead-capture flow greets the new customer and asks their name.
    flow = client.post(
        "/api/v1/flows", json={"name": "Call-out", "starter": "plumber-call-out"}, headers=headers
    )
    assert flow.status_code == 201, flow.text
    published = client.post(f"/api/v1/flows/{flow.json()['id']}/publish", headers=headers)
    assert published.status_code == 201, published.text
    customer_says(
        standin,
        channel,
        phone,
        f"Hi, it's {profile_name}. Call me on {national(phone)}, my geyser is leaking",
        profile_name=profile_name,
    )
    live_server.run_jobs()
    customer_says(standin, channel, phone, name, profile_name=profile_name)
    live_server.run_jobs()
    conversation = conversation_with(client, phone)
    contact_id = conversation["contact"]["id"]
    patched = client.patch(
        f"/api/v1/contacts/{contact_id}",
        json={
            "name": name,
            "email": email,
            "address": f"7 {mark} Street, Sea Point",
            "notes": f"Prefers calls on {phone}",
            "tags": [f"vip{mark}"],
        },
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    note = client.post(
        f"/api/v1/conversations/{conversation['id']}/notes",
        json={"body": f"{name} says the gate code is 1234"},
        headers=headers,
    )
    assert note.status_code == 201, note.text
    reply = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"text": f"Thanks {name}, we'll come tomorrow."},
        headers=headers,
    )
    assert reply.status_code == 202, reply.text
    lead = client.post(
        "/api/v1/leads",
        json={
            "contact_id": contact_id,
            "conversation_id": conversation["id"],
            "service": f"Geyser for {name}",
            "suburb": "Sea Point",
            "answers": {"name": name, "phone": phone},
        },
        headers=headers,
    )
    assert lead.status_code == 201, lead.text
    quote = finalised(client, headers, "quotes", contact_id=contact_id)
    invoice = finalised(client, headers, "invoices", contact_id=contact_id)
    customer_says(standin, channel, phone, "STOP", profile_name=profile_name)
    live_server.run_jobs()

    # The stand-in reports each outbound message's progress as WhatsApp would (the reply, and
    # the opt-out's confirmation): wait until every one is read or failed, so no status
    # callback arrives after the erasure (ids only, but it names the conversation).
    def settled() -> bool:
        sent = [m for m in thread(client, conversation["id"]) if m["direction"] == "outbound"]
        return bool(sent) and all(m["status"] in ("read", "failed", "undelivered") for m in sent)

    wait_for(settled, message="every outbound message to be read or failed")
    live_server.run_jobs()
    return Customer(
        account,
        headers,
        contact_id,
        conversation["id"],
        phone,
        name,
        profile_name,
        email,
        invoice,
        quote,
        lead.json()["id"],
    )


def tables(conn: psycopg.Connection) -> list[str]:
    return [
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'public' and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
    ]


def found_in_database(
    owner_conn: psycopg.Connection, tenant_id: uuid.UUID, needles: list[str]
) -> list[str]:
    """Every row (as text, any table, as the owner with the business's tenant set) holding
    one of `needles`, except the documents rows on legal hold; as "table: needle: row"."""
    hits = []
    wanted = [needle.lower() for needle in needles if needle]
    with owner_conn.transaction():
        owner_conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant_id),))
        for table in tables(owner_conn):
            query = sql.SQL("select t::text from {} t").format(sql.Identifier(table))
            if table == "documents":
                query += sql.SQL(" where t.legal_hold_until is null")
            for (row,) in owner_conn.execute(query).fetchall():
                lowered = row.lower()
                hits += [f"{table}: {n}: {row[:300]}" for n in wanted if n in lowered]
    return hits


def held_rows(owner_conn: psycopg.Connection, tenant_id: uuid.UUID) -> list[tuple[Any, ...]]:
    with owner_conn.transaction():
        owner_conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant_id),))
        return owner_conn.execute(
            "select id, kind, recipient_name, legal_hold_until, anonymised_at from documents "
            "where legal_hold_until is not null"
        ).fetchall()


def places(hits: list[str]) -> list[str]:
    """Which tables hold which needle (rows change as a message's status moves on)."""
    return sorted(": ".join(hit.split(": ", 2)[:2]) for hit in hits)
