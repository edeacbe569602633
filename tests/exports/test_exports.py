"""Data exports through the pages: the whole business as a ZIP with every kind of record, its
PDFs and media; one customer's data and nobody else's; a person's own account data; and who
may start, see and download them (owners of that business, with a genuine, current link)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import uuid
import zipfile
from typing import Any

import httpx
import psycopg

from clientcompass import links
from clientcompass.config import Settings
from clientcompass.lifecycle import export
from tests.conftest import LiveServer, MailSink, StandinServer
from tests.support.accounts import invite_and_join, sign_up
from tests.support.documents import finalised, vat_business
from tests.support.exports import ready_link, unzip
from tests.support.forms import page_csrf, post_form
from tests.support.jobs import run_jobs_until
from tests.support.waiting import wait_for
from tests.support.whatsapp import connect_channel, customer_says, sa_mobile

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a0e2b3a90000000049454e44ae426082"
)


def records(archive: zipfile.ZipFile, kind: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(archive.read(f"data/{kind}.json"))
    table = list(csv.DictReader(io.StringIO(archive.read(f"data/{kind}.csv").decode())))
    assert len(table) == len(rows), kind
    return rows


def business_with_customers(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer, owner_conn: Any
) -> dict[str, Any]:
    """A business with two customers: A sent a photo and has an issued invoice, B only wrote."""
    account, headers = vat_business(client)
    channel = connect_channel(client, standin)
    phone_a, phone_b = sa_mobile(), sa_mobile()
    customer_says(
        standin,
        channel,
        phone_a,
        "Photo of the leak",
        media=[{"content_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}],
    )
    customer_says(standin, channel, phone_b, "Hello from Bongani")

    def stored() -> bool:
        row = owner_conn.execute(
            "select count(*) from message_media where tenant_id = %s and state = 'stored'",
            (account.tenant_id,),
        ).fetchone()
        return bool(row and row[0] == 1)

    run_jobs_until(live_server, stored, message="the photo stored")
    invoice = finalised(client, headers, "invoices", phone=phone_a, name="Ayanda Export")
    return {
        "account": account,
        "phone_a": phone_a,
        "phone_b": phone_b,
        "invoice": invoice,
        "contact_a": invoice["contact_id"],
    }


def test_an_owner_exports_everything_and_only_owners_of_that_business_get_it(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
    settings: Settings,
    owner_conn: psycopg.Connection,
    mail_sink: MailSink,
) -> None:
    made = business_with_customers(client, live_server, standin, owner_conn)
    account = made["account"]

    # A change without the CSRF token is refused and starts nothing.
    assert client.post("/settings/export").status_code == 403
    started = post_form(client, "/settings/export", {}, csrf_page="/settings/export")
    assert started.status_code == 303
    link = ready_link(live_server, client)

    archive = unzip(client.get(link))
    names = set(archive.namelist())
    for kind in (
        "business",
        "settings",
        "team_members",
        "contacts",
        "conversations",
        "messages",
        "message_media",
        "notes_and_events",
        "leads",
        "documents",
        "document_lines",
        "payments",
        "templates",
        "flows",
        "flow_runs",
        "audit_trail",
    ):
        assert f"data/{kind}.json" in names and f"data/{kind}.csv" in names, kind
    phones = {row["phone_e164"] for row in records(archive, "contacts")}
    assert phones == {made["phone_a"], made["phone_b"]}
    bodies = {row["body"] for row in records(archive, "messages")}
    assert {"Photo of the leak", "Hello from Bongani"} <= bodies
    assert [row["number"] for row in records(archive, "documents")] == [made["invoice"]["number"]]
    assert len(records(archive, "document_lines")) == 3
    members = records(archive, "team_members")
    assert [m["email"] for m in members] == [account.email]
    everything = b"".join(archive.read(name) for name in names if name.startswith("data/"))
    for secret in (b"password_hash", b"$argon2", b"banking_details_sealed", b"auth_token"):
        assert secret not in everything
    pdfs = [n for n in names if n.startswith("documents/")]
    assert len(pdfs) == 1 and archive.read(pdfs[0]).startswith(b"%PDF")
    media = [n for n in names if n.startswith("media/")]
    assert [archive.read(n) for n in media] == [PNG]
    assert archive.testzip() is None

    # The link was emailed, and the export is in the audit trail.
    def export_mail() -> dict[str, str] | None:
        return next(
            (
                m
                for m in mail_sink.messages
                if account.email in m["to"] and "export is ready" in m["subject"]
            ),
            None,
        )

    mail = wait_for(export_mail, 10, "the export's email")
    emailed = re.search(r"(/exports/download\?token=\S+)", mail["body"])
    assert emailed is not None
    assert client.get(emailed.group(1)).status_code == 200
    audited = owner_conn.execute(
        "select count(*) from audit_events where tenant_id = %s and action = 'export_created' "
        "and target_kind = 'export'",
        (account.tenant_id,),
    ).fetchone()
    assert audited == (1,)

    # A tampered or expired link is refused.
    token = link.split("token=")[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(export.download_path(tampered)).status_code == 404
    export_id = links.read(settings.secret_key, export.PURPOSE, token)
    assert export_id is not None
    expired = links.sign(
        settings.secret_key, export.PURPOSE, account.tenant_id, export_id[1], lifetime=-5
    )
    assert client.get(export.download_path(expired)).status_code == 404

    # Another business's owner can neither download it, see it, nor export our customer.
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        sign_up(other)
        assert other.get(link).status_code == 404
        assert "Whole business" not in other.get("/settings/export/status").text
        csrf = page_csrf(other, "/settings/export")
        refused = other.post(f"/contacts/{made['contact_a']}/export", data={"csrf_token": csrf})
        assert refused.status_code == 404

    # An agent of this business may not export, look, or download.
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        invite_and_join(client, agent, role="agent")
        csrf = page_csrf(agent, "/settings/account")
        assert agent.get("/settings/export").status_code == 403
        assert agent.post("/settings/export", data={"csrf_token": csrf}).status_code == 403
        assert agent.get(link).status_code == 403
        customer = agent.post(f"/contacts/{made['contact_a']}/export", data={"csrf_token": csrf})
        assert customer.status_code == 403


def test_a_customer_export_holds_that_customer_only(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
) -> None:
    made = business_with_customers(client, live_server, standin, owner_conn)
    contact_page = client.get(f"/contacts/{made['contact_a']}")
    assert 'data-testid="export-contact"' in contact_page.text
    started = post_form(
        client,
        f"/contacts/{made['contact_a']}/export",
        {},
        csrf_page=f"/contacts/{made['contact_a']}",
    )
    assert started.status_code == 303
    archive = unzip(client.get(ready_link(live_server, client)))
    names = set(archive.namelist())
    assert [row["phone_e164"] for row in records(archive, "contacts")] == [made["phone_a"]]
    assert [row["body"] for row in records(archive, "messages")] == ["Photo of the leak"]
    assert len(records(archive, "documents")) == 1
    assert "data/team_members.json" not in names and "data/audit_trail.json" not in names
    everything = b"".join(archive.read(name) for name in names)
    assert made["phone_b"].encode() not in everything
    assert b"Bongani" not in everything
    assert [archive.read(n) for n in names if n.startswith("media/")] == [PNG]
    assert len([n for n in names if n.startswith("documents/")]) == 1

    # Someone else's contact id, or none at all, is not found.
    csrf = page_csrf(client, "/settings/export")
    missing = client.post(f"/contacts/{uuid.uuid4()}/export", data={"csrf_token": csrf})
    assert missing.status_code == 404


def test_every_person_downloads_their_own_account_data(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        email = invite_and_join(client, agent, role="agent")
        page = agent.get("/settings/account")
        assert 'href="/settings/account/export"' in page.text
        response = agent.get("/settings/account/export")
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        data = response.json()
        assert [p["email"] for p in data["profile"]] == [email]
        assert "password_hash" not in data["profile"][0]
        assert data["signed_in_devices"] and data["signed_in_devices"][0]["this_device"]
        for section in ("api_tokens", "audit_events", "notes_written", "messages_sent"):
            assert isinstance(data[section], list), section
    # Signed out, there is nothing to download.
    with httpx.Client(base_url=live_server.url, timeout=20) as stranger:
        assert stranger.get("/settings/account/export").status_code in (401, 303)
