"""Merging duplicate contacts: conversations move (threads fold together on a shared
channel), documents follow, the fuller details survive, and the duplicate is gone."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import psycopg

from clientcompass.contacts.merge import CONTACT_REFERENCES, CONVERSATION_REFERENCES
from tests.conftest import StandinServer
from tests.support.accounts import sign_up
from tests.support.forms import api_headers, post_form
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

REFERENCING = """
    select distinct c.conrelid::regclass::text from pg_constraint c
    where c.contype = 'f' and c.confrelid = %s::regclass
"""


def conversations_of(client: httpx.Client, phone: str) -> list[dict[str, Any]]:
    return [c for c in client.get("/api/v1/conversations").json() if c["contact"]["phone"] == phone]


def insert_document(conn: psycopg.Connection, tenant_id: uuid.UUID, contact_id: str) -> uuid.UUID:
    document_id = uuid.uuid4()
    conn.execute(
        """insert into documents (tenant_id, id, kind, status, contact_id, recipient_name,
            recipient_vat_number, billing_address, service_address, job_description, price_mode,
            rounding, vat_rate_bp, issue_date, terms, notes, deposit_percent, subtotal_excl_cents,
            vat_cents, total_cents, discount_cents, paid_cents, credited_cents, invoice_part,
            reason, pdf_key, pdf_sha256)
        values (%s, %s, 'quote', 'draft', %s, 'X', '', '', '', 'Geyser', 'exclusive', 'none',
            1500, current_date, '', '', 0, 0, 0, 0, 0, 0, 0, '', '', '', '')""",
        (tenant_id, document_id, contact_id),
    )
    return document_id


def test_the_merge_knows_every_table_that_points_at_contacts_or_conversations(
    owner_conn: psycopg.Connection,
) -> None:
    """A new table with a contact_id or conversation_id must be taught to the merge."""
    contacts = {row[0] for row in owner_conn.execute(REFERENCING, ("contacts",))}
    conversations = {row[0] for row in owner_conn.execute(REFERENCING, ("conversations",))}
    assert contacts == CONTACT_REFERENCES
    assert conversations == CONVERSATION_REFERENCES


def test_merge_moves_conversations_folds_shared_threads_and_keeps_the_fuller_details(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    main, second = connect_channel(client, standin), connect_channel(client, standin)
    kept_phone, duplicate_phone = sa_mobile(), sa_mobile()
    customer_says(standin, main, kept_phone, "Kept on main")
    customer_says(standin, main, duplicate_phone, "Duplicate on main")
    customer_says(standin, second, duplicate_phone, "Duplicate on second")
    kept = conversation_with(client, kept_phone)["contact"]
    duplicate = conversation_with(client, duplicate_phone)["contact"]
    headers = api_headers(client)
    client.patch(
        f"/api/v1/contacts/{kept['id']}",
        json={"name": "Kept Name", "tags": ["vip"], "notes": "Prefers mornings"},
        headers=headers,
    )
    client.patch(
        f"/api/v1/contacts/{duplicate['id']}",
        json={"name": "Other Name", "email": "dup@example.co.za", "tags": ["vip", "geyser"]},
        headers=headers,
    )
    [kept_main] = conversations_of(client, kept_phone)
    duplicate_convs = {c["channel_id"]: c for c in conversations_of(client, duplicate_phone)}
    duplicate_main = duplicate_convs[main["id"]]
    for conversation_id, label in (
        (kept_main["id"], "urgent"),
        (duplicate_main["id"], "urgent"),
        (duplicate_main["id"], "quote"),
    ):
        owner_conn.execute(
            "insert into conversation_labels (tenant_id, conversation_id, label) values (%s, %s, %s)",
            (account.tenant_id, conversation_id, label),
        )
    owner_conn.execute(
        "insert into conversation_events (tenant_id, id, conversation_id, kind, body, data)"
        " values (%s, %s, %s, 'note', 'a private note', '{}')",
        (account.tenant_id, uuid.uuid4(), duplicate_main["id"]),
    )
    document_id = insert_document(owner_conn, account.tenant_id, duplicate["id"])

    response = client.post(
        f"/api/v1/contacts/{kept['id']}/merge",
        json={"duplicate_id": duplicate["id"]},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    merged = response.json()
    assert merged["phone"] == kept_phone and merged["name"] == "Kept Name"
    assert merged["email"] == "dup@example.co.za", "an empty field takes the duplicate's"
    assert merged["tags"] == ["vip", "geyser"]
    assert "Prefers mornings" in merged["notes"] and duplicate_phone in merged["notes"]
    assert client.get(f"/api/v1/contacts/{duplicate['id']}").status_code == 404

    detail = client.get(f"/api/v1/contacts/{kept['id']}").json()
    by_channel = {c["channel_id"]: c for c in detail["conversations"]}
    assert set(by_channel) == {main["id"], second["id"]}
    assert by_channel[main["id"]]["id"] == kept_main["id"], "the shared channel's threads fold"
    assert by_channel[second["id"]]["id"] == duplicate_convs[second["id"]]["id"]
    thread = client.get(f"/api/v1/conversations/{kept_main['id']}/messages").json()
    assert [m["body"] for m in thread["messages"]] == ["Kept on main", "Duplicate on main"]
    assert thread["conversation"]["unread_count"] == 2
    assert thread["conversation"]["last_message_preview"] == "Duplicate on main"
    labels = owner_conn.execute(
        "select label from conversation_labels where conversation_id = %s order by label",
        (kept_main["id"],),
    ).fetchall()
    assert labels == [("quote",), ("urgent",)]
    notes = owner_conn.execute(
        "select count(*) from conversation_events where conversation_id = %s", (kept_main["id"],)
    ).fetchone()
    assert notes == (1,)
    gone = owner_conn.execute(
        "select count(*) from conversations where id = %s", (duplicate_main["id"],)
    ).fetchone()
    assert gone == (0,)
    moved = owner_conn.execute(
        "select contact_id from documents where id = %s", (document_id,)
    ).fetchone()
    assert moved is not None and str(moved[0]) == kept["id"]

    # A new message from the kept number still lands in the folded conversation.
    customer_says(standin, main, kept_phone, "After the merge")
    after = client.get(f"/api/v1/conversations/{kept_main['id']}/messages").json()
    assert after["messages"][-1]["body"] == "After the merge"


def test_merge_from_the_page_by_phone_and_bad_merges_change_nothing(
    client: httpx.Client,
) -> None:
    sign_up(client)
    headers = api_headers(client)
    keep = client.post(
        "/api/v1/contacts", json={"phone": sa_mobile(), "name": "Keep"}, headers=headers
    ).json()
    other = client.post(
        "/api/v1/contacts", json={"phone": sa_mobile(), "name": "Other"}, headers=headers
    ).json()
    page = f"/contacts/{keep['id']}"
    itself = client.post(
        f"/api/v1/contacts/{keep['id']}/merge", json={"duplicate_id": keep["id"]}, headers=headers
    )
    assert itself.status_code == 422
    unknown = post_form(client, f"{page}/merge", {"duplicate_phone": "0829999999"}, csrf_page=page)
    assert unknown.status_code == 422 and "No contact has that number" in unknown.text
    assert client.get(f"/api/v1/contacts/{other['id']}").status_code == 200

    done = post_form(client, f"{page}/merge", {"duplicate_phone": other["phone"]}, csrf_page=page)
    assert done.status_code == 303 and done.headers["location"] == f"{page}?merged=1"
    assert client.get(f"/api/v1/contacts/{other['id']}").status_code == 404
    assert "Merged" in client.get(done.headers["location"]).text


def test_a_merge_keeps_the_name_people_know_the_contact_by(
    client: httpx.Client, standin: StandinServer
) -> None:
    """Known only by her WhatsApp name, "Thandi Nkosi" must not become the duplicate's
    saved "T. Nkosi"; the duplicate's other details still fill in."""
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Hi", profile_name="Thandi Nkosi")
    headers = api_headers(client)
    kept = next(c for c in client.get("/api/v1/contacts").json() if c["phone"] == phone)
    assert kept["name"] == "" and kept["display_name"] == "Thandi Nkosi"
    duplicate = client.post(
        "/api/v1/contacts",
        json={"phone": sa_mobile(), "name": "T. Nkosi", "email": "thandi@example.co.za"},
        headers=headers,
    ).json()
    merged = client.post(
        f"/api/v1/contacts/{kept['id']}/merge",
        json={"duplicate_id": duplicate["id"]},
        headers=headers,
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["display_name"] == "Thandi Nkosi"
    assert merged.json()["email"] == "thandi@example.co.za"
    row = conversations_of(client, phone)[0]
    assert row["contact"]["profile_name"] == "Thandi Nkosi" and row["contact"]["name"] == ""
    # The export names her the same way, in its display_name column.
    exported = list(csv.reader(io.StringIO(client.get("/api/v1/contacts/export").text)))
    header, rows = exported[0], exported[1:]
    column = header.index("display_name")
    assert [r[column] for r in rows if r[header.index("email")] == "thandi@example.co.za"] == [
        "Thandi Nkosi"
    ]
