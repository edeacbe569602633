"""The legal hold with the clock moved: 4 years after issue an erased customer's tax invoice
still keeps what SARS requires; 6 years after, the retention rule has anonymised it (amounts
kept). A run never touches an invoice whose customer was not erased, nor a held row early."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from clientcompass.config import Settings
from clientcompass.lifecycle import retention
from clientcompass.lifecycle.erasure import ERASED_NAME
from tests.conftest import LiveServer, StandinServer
from tests.erasure.support import customer_with_history, found_in_database
from tests.erasure.test_erase import erase_api
from tests.support import factories
from tests.support.documents import finalised

YEAR = timedelta(days=365)


def run(settings: Settings, now: datetime, *, dry_run: bool = False) -> int:
    rule = retention.rule_named("legal_hold")
    [outcome] = factories.run(
        settings,
        lambda services: retention.run(
            services.unit_of_work, settings, now, dry_run=dry_run, rules=(rule,)
        ),
    )
    return outcome.count


def document(owner_conn: psycopg.Connection, tenant: uuid.UUID, doc_id: str) -> dict[str, Any]:
    with owner_conn.transaction():
        owner_conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        cursor = owner_conn.execute(
            "select recipient_name, billing_address, recipient_vat_number, total_cents, "
            "number, legal_hold_until, anonymised_at from documents where id = %s",
            (doc_id,),
        )
        row = cursor.fetchone()
        assert row is not None
        return dict(zip([c.name for c in cursor.description or []], row, strict=True))


def pdfs(owner_conn: psycopg.Connection, tenant: uuid.UUID, doc_id: str) -> int:
    with owner_conn.transaction():
        owner_conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        row = owner_conn.execute(
            "select count(*) from files where document_id = %s", (doc_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_held_4_years_on_anonymised_6_years_on(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
    settings: Settings,
    owner_conn: psycopg.Connection,
) -> None:
    customer = customer_with_history(client, live_server, standin)
    tenant = customer.account.tenant_id
    # Another customer's invoice, not erased: no hold, never touched by the rule.
    other = finalised(client, customer.headers, "invoices", name="Thabo Kept", phone="+27825550199")
    assert erase_api(client, customer.contact_id).status_code == 200
    invoice = customer.invoice["id"]
    issued = document(owner_conn, tenant, invoice)
    assert issued["recipient_name"] == customer.name and issued["legal_hold_until"]
    now = datetime.now(UTC)

    # Four years on: still held, exactly as issued.
    run(settings, now + 4 * YEAR)
    held = document(owner_conn, tenant, invoice)
    assert held == issued
    assert pdfs(owner_conn, tenant, invoice) == 1

    # Six years on: the hold has ended and the rule anonymises the row (a dry run first).
    later = now + 6 * YEAR
    assert run(settings, later, dry_run=True) >= 1
    assert document(owner_conn, tenant, invoice) == issued, "a dry run changed nothing"
    assert run(settings, later) >= 1
    done = document(owner_conn, tenant, invoice)
    assert done["recipient_name"] == ERASED_NAME
    assert done["billing_address"] == "" and done["recipient_vat_number"] == ""
    assert done["legal_hold_until"] is None and done["anonymised_at"] is not None
    assert done["total_cents"] == issued["total_cents"] and done["number"] == issued["number"]
    # The issued PDF stays until the database's own date passes its keep_until: the files
    # table's guard (migration 0015) is not fooled by a clock moved in a test.
    assert pdfs(owner_conn, tenant, invoice) == 1
    assert found_in_database(owner_conn, tenant, customer.needles) == []
    assert run(settings, later) == 0, "idempotent"

    # The invoice of the customer who was not erased is untouched.
    kept = document(owner_conn, tenant, other["id"])
    assert kept["recipient_name"] == "Thabo Kept" and kept["anonymised_at"] is None


def test_the_rule_is_registered_and_counts_only_through_its_scan(
    owner_conn: psycopg.Connection, app_conn: psycopg.Connection
) -> None:
    rule = retention.rule_named("legal_hold")
    assert rule.delete is not None and "legal hold" in rule.removes
    with app_conn.transaction():
        rows = app_conn.execute("select * from cc_legal_hold_due(current_date + 10000)")
        assert [c.name for c in rows.description or []] == ["tenant_id", "due"]
