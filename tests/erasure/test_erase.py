"""Erasing a customer: afterwards their phone number (E.164 and national) and names are
nowhere in the database but the tax documents on legal hold; it needs the person's password,
stays inside its own business, is in the audit trail, refuses a post without the CSRF token,
and purges the live event stream."""

from __future__ import annotations

import json
import uuid

import httpx
import psycopg
import redis as sync_redis

from clientcompass.files import keep_until
from clientcompass.lifecycle.erasure import ERASED_NAME
from clientcompass.realtime.bus import stream_name
from tests.conftest import LiveServer, StandinServer
from tests.erasure.support import customer_with_history, found_in_database, held_rows, places
from tests.support.accounts import PASSWORD, sign_up
from tests.support.exports import ready_link, unzip
from tests.support.forms import api_headers, page_csrf, post_form


def erase_api(client: httpx.Client, contact_id: str, password: str = PASSWORD) -> httpx.Response:
    return client.post(
        f"/api/v1/contacts/{contact_id}/erase",
        json={"password": password},
        headers=api_headers(client),
    )


def stream_mentions(redis_client: sync_redis.Redis, tenant_id: uuid.UUID, needle: str) -> int:
    entries = redis_client.xrange(stream_name(tenant_id), "-", "+")
    return sum(
        needle in json.dumps({k.decode(): v.decode() for k, v in f.items()}) for _, f in entries
    )


def test_after_erasure_the_customer_is_nowhere_but_in_held_tax_documents(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
    redis_client: sync_redis.Redis,
) -> None:
    customer = customer_with_history(client, live_server, standin)
    tenant = customer.account.tenant_id
    before = found_in_database(owner_conn, tenant, customer.needles)
    tables_before = {hit.split(":", 1)[0] for hit in before}
    assert {
        "contacts",
        "messages",
        "conversation_events",
        "leads",
        "flow_runs",
        "documents",
    } <= tables_before, before
    assert stream_mentions(redis_client, tenant, customer.conversation_id) > 0

    # A wrong password: refused, nothing changed.
    wrong = erase_api(client, customer.contact_id, "not my password")
    assert wrong.status_code == 422, wrong.text
    assert "not your current password" in wrong.text
    assert places(found_in_database(owner_conn, tenant, customer.needles)) == places(before)

    erased = erase_api(client, customer.contact_id)
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["counts"]["documents_on_legal_hold"] == 1
    assert body["counts"]["documents_anonymised"] == 1
    [held] = body["held_documents"]
    assert held["id"] == customer.invoice["id"]
    assert (
        held["held_until"]
        == keep_until(
            __import__("datetime").date.fromisoformat(customer.invoice["issue_date"])
        ).isoformat()
    )

    assert found_in_database(owner_conn, tenant, customer.needles) == []
    # …except the held invoice, which keeps what SARS requires.
    [row] = held_rows(owner_conn, tenant)
    assert str(row[0]) == customer.invoice["id"] and row[2] == customer.name
    with owner_conn.transaction():
        owner_conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        quote = owner_conn.execute(
            "select recipient_name, billing_address, anonymised_at from documents where id = %s",
            (customer.quote["id"],),
        ).fetchone()
        pdfs = owner_conn.execute(
            "select count(*) from files where document_id = %s", (customer.quote["id"],)
        ).fetchone()
        invoice_pdf = owner_conn.execute(
            "select retention::text from files where document_id = %s", (customer.invoice["id"],)
        ).fetchone()
    assert quote is not None and quote[0] == ERASED_NAME and quote[1] == "" and quote[2]
    assert pdfs == (0,), "the quote's PDF is deleted"
    assert invoice_pdf == ("legal_hold",), "the tax invoice's issued PDF is kept"

    # The contact is a tombstone; the API and the search show no trace.
    contact = client.get(f"/api/v1/contacts/{customer.contact_id}").json()
    assert contact["name"] == ERASED_NAME and contact["phone"].startswith("erased-")
    assert contact["email"] == "" and contact["tags"] == [] and contact["notes"] == ""
    assert client.get("/api/v1/contacts", params={"q": customer.phone[3:]}).json() == []
    assert client.get("/api/v1/contacts", params={"q": customer.name}).json() == []

    # The live stream no longer names the conversation or the contact.
    assert stream_mentions(redis_client, tenant, customer.conversation_id) == 0
    assert stream_mentions(redis_client, tenant, customer.contact_id) == 0

    # In the audit trail, with counts and no personal data.
    with owner_conn.transaction():
        owner_conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        # The owner role may see every business's rows: name this one.
        [audit] = owner_conn.execute(
            "select actor_id, target_id, target_label, details::text from audit_events "
            "where action = 'customer_erased' and tenant_id = %s",
            (tenant,),
        ).fetchall()
    assert audit[0] == customer.account.user_id and str(audit[1]) == customer.contact_id
    assert not any(n.lower() in (audit[2] + audit[3]).lower() for n in customer.needles)
    assert '"messages"' in audit[3]

    # Erasing again (say, after the customer wrote once more) is safe and is recorded too.
    again = erase_api(client, customer.contact_id)
    assert again.status_code == 200, again.text
    assert found_in_database(owner_conn, tenant, customer.needles) == []
    with owner_conn.transaction():
        owner_conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        labels = owner_conn.execute(
            "select target_label from audit_events "
            "where action = 'customer_erased' and tenant_id = %s",
            (tenant,),
        ).fetchall()
    assert labels == [(ERASED_NAME,), (ERASED_NAME,)]


def test_another_business_contact_is_not_found_and_untouched(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
) -> None:
    customer = customer_with_history(client, live_server, standin)
    before = found_in_database(owner_conn, customer.account.tenant_id, customer.needles)
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        sign_up(other)
        assert erase_api(other, customer.contact_id).status_code == 404
        assert other.get(f"/contacts/{customer.contact_id}/erase").status_code == 404
        token = page_csrf(other, "/settings/account")
        page = other.post(
            f"/contacts/{customer.contact_id}/erase",
            data={"password": PASSWORD, "csrf_token": token},
        )
        assert page.status_code == 404
    assert places(
        found_in_database(owner_conn, customer.account.tenant_id, customer.needles)
    ) == places(before)


def test_the_page_form_needs_the_csrf_token_and_the_password(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
) -> None:
    customer = customer_with_history(client, live_server, standin)
    tenant = customer.account.tenant_id
    before = found_in_database(owner_conn, tenant, customer.needles)
    path = f"/contacts/{customer.contact_id}/erase"

    page = client.get(path)
    assert page.status_code == 200
    assert "legal hold" in page.text and "5 years from the date of issue" in page.text
    assert customer.invoice["number"] in page.text

    no_csrf = client.post(path, data={"password": PASSWORD})
    assert no_csrf.status_code == 403
    token = page_csrf(client, path)
    blank = client.post(path, data={"password": "", "csrf_token": token})
    assert blank.status_code == 422 and "Enter your password" in blank.text
    wrong = client.post(path, data={"password": "guess", "csrf_token": token})
    assert wrong.status_code == 422 and "not your current password" in wrong.text
    assert places(found_in_database(owner_conn, tenant, customer.needles)) == places(before)

    done = client.post(path, data={"password": PASSWORD, "csrf_token": token})
    assert done.status_code == 200, done.text[:500]
    assert "erased" in done.text and "legal hold" in done.text
    assert found_in_database(owner_conn, tenant, customer.needles) == []


def test_an_agent_cannot_erase(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> None:
    customer = customer_with_history(client, live_server, standin)
    from tests.support.accounts import invite_and_join

    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        invite_and_join(client, agent, role="agent")
        assert erase_api(agent, customer.contact_id).status_code == 403
        assert agent.get(f"/contacts/{customer.contact_id}/erase").status_code == 403
    contact = client.get(f"/api/v1/contacts/{customer.contact_id}").json()
    assert contact["name"] == customer.name


def test_a_signed_out_post_changes_nothing(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
) -> None:
    customer = customer_with_history(client, live_server, standin)
    tenant = customer.account.tenant_id
    before = places(found_in_database(owner_conn, tenant, customer.needles))
    token = page_csrf(client, f"/contacts/{customer.contact_id}/erase")
    client.post("/logout", data={"csrf_token": token})
    path = f"/contacts/{customer.contact_id}/erase"
    refused = client.post(path, data={"password": PASSWORD, "csrf_token": token})
    assert refused.status_code == 303 and "/login" in refused.headers["location"]
    api = client.post(f"/api/v1/contacts/{customer.contact_id}/erase", json={"password": PASSWORD})
    assert api.status_code == 401
    assert places(found_in_database(owner_conn, tenant, customer.needles)) == before


def test_an_export_made_after_the_erasure_holds_the_customer_only_in_the_held_invoice(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
) -> None:
    customer = customer_with_history(client, live_server, standin)
    # An export made before the erasure copied the customer: it goes with the erasure.
    post_form(client, "/settings/export", {}, csrf_page="/settings/export")
    before = ready_link(live_server, client)
    assert erase_api(client, customer.contact_id).status_code == 200
    assert client.get(before).status_code == 404, "the earlier ZIP is discarded"

    post_form(client, "/settings/export", {}, csrf_page="/settings/export")
    archive = unzip(client.get(ready_link(live_server, client)))
    holding: dict[str, set[str]] = {}
    for entry in archive.namelist():
        if entry.endswith(".pdf"):
            continue  # an issued PDF is the held document itself (or was deleted with its quote)
        text = archive.read(entry).decode("utf-8", errors="replace").lower()
        for needle in customer.needles:
            if needle.lower() in text:
                holding.setdefault(needle, set()).add(entry)
    # Only the tax invoice keeps the customer's name (the SARS fields, on legal hold).
    assert set(holding) <= {customer.name}, holding
    assert holding.get(customer.name, set()) <= {"data/documents.json", "data/documents.csv"}
    documents = json.loads(archive.read("data/documents.json"))
    named = [d for d in documents if customer.name in json.dumps(d)]
    assert [d["id"] for d in named] == [customer.invoice["id"]]
