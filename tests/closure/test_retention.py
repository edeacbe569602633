"""A closed business with the clock moved: reopenable with its data intact for the grace
period; then what the law doesn't require goes; documents 5 years after issue; conversations
and finally the business itself CLOSED_CONVERSATIONS_RETENTION_YEARS after closing.

The closure is placed 9 years in the past and the retention runs at instants after it, so
the database's own clock (the legal-hold trigger on files uses current_date) agrees."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from clientcompass.config import Settings
from clientcompass.errors import Gone
from clientcompass.lifecycle import closure, retention
from tests.closure.helpers import api_token
from tests.conftest import StandinServer
from tests.support import factories
from tests.support.documents import finalised
from tests.support.factories import Services
from tests.support.forms import post_form
from tests.support.shop import shop_with_customer

DAY = timedelta(days=1)
YEAR = timedelta(days=365)


def count(conn: psycopg.Connection, tenant: uuid.UUID, table: str) -> int:
    with conn.transaction():
        conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        row = conn.execute(
            f"select count(*) from {table} where tenant_id = %s",
            (tenant,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def tenant_exists(conn: psycopg.Connection, tenant: uuid.UUID) -> bool:
    with conn.transaction():
        conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        row = conn.execute("select count(*) from tenants where id = %s", (tenant,)).fetchone()
    return row == (1,)


def run(settings: Settings, now: datetime) -> dict[str, int]:
    outcomes = factories.run(
        settings, lambda services: retention.run(services.unit_of_work, settings, now)
    )
    return {outcome.rule.name: outcome.count for outcome in outcomes}


def reopenable(settings: Settings, token: str, now: datetime) -> bool:
    async def check(services: Services) -> bool:
        try:
            async with services.unit_of_work() as uow:
                uow.now = now
                await closure.open_reopen_link(uow, settings.secret_key, token)
        except Gone:
            return False
        return True

    return factories.run(settings, check)


KEPT_FOR_LAW = ("documents", "document_lines", "files", "conversations", "messages", "contacts")
PERSONAL = ("users", "api_tokens")


def test_a_closed_business_is_deleted_in_the_order_the_policy_promises(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    settings = factories.settings_of(client)
    shop = shop_with_customer(client, standin)
    finalised(client, shop.headers, "invoices")
    tenant, user = factories.signed_in_as(client)
    api_token(client, tenant, user)
    closed = post_form(
        client,
        "/settings/close",
        {"password": "correct horse battery"},
        csrf_page="/settings/close",
    )
    assert closed.status_code == 200, closed.text[:300]

    # Move the closure 9 years back; the invoice was issued 10 days before it.
    closed_at = datetime.now(UTC).replace(microsecond=123456) - 9 * YEAR
    issued = (closed_at - 10 * DAY).date()
    with owner_conn.transaction():
        owner_conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        owner_conn.execute("update tenants set closed_at = %s where id = %s", (closed_at, tenant))
        owner_conn.execute(
            "update documents set issue_date = %s where tenant_id = %s", (issued, tenant)
        )
        owner_conn.execute(
            "update files set keep_until = %s where tenant_id = %s and document_id is not null",
            (issued + 5 * YEAR + DAY, tenant),
        )
    before = {table: count(owner_conn, tenant, table) for table in KEPT_FOR_LAW + PERSONAL}
    assert all(before.values()), before
    token = closure.reopen_token(settings.secret_key, tenant, closed_at)

    # 29 days: still reopenable, nothing deleted.
    run(settings, closed_at + 29 * DAY)
    assert reopenable(settings, token, closed_at + 29 * DAY)
    assert {t: count(owner_conn, tenant, t) for t in before} == before

    # 31 days: the link is dead; the team's accounts and tokens are gone, the rest kept.
    assert not reopenable(settings, token, closed_at + 31 * DAY)
    run(settings, closed_at + 31 * DAY)
    for table in PERSONAL:
        assert count(owner_conn, tenant, table) == 0, table
    for table in KEPT_FOR_LAW:
        assert count(owner_conn, tenant, table) == before[table], table
    assert owner_conn.execute(
        "select count(*) from login_index where tenant_id = %s", (tenant,)
    ).fetchone() == (0,)

    # 6 years: documents (issued more than 5 years ago) are gone; conversations kept.
    outcome = run(settings, closed_at + 6 * YEAR)
    assert outcome["closed_business_documents"] == before["documents"]
    assert count(owner_conn, tenant, "documents") == 0
    assert count(owner_conn, tenant, "files") == 0, "the issued PDF goes with its invoice"
    assert count(owner_conn, tenant, "conversations") == before["conversations"]
    assert tenant_exists(owner_conn, tenant)

    # 8 years: conversations and everything else gone, the tenant row last.
    run(settings, closed_at + 8 * YEAR)
    for table in ("conversations", "messages", "contacts", "channels", "audit_events"):
        assert count(owner_conn, tenant, table) == 0, table
    assert not tenant_exists(owner_conn, tenant)
    assert run(settings, closed_at + 8 * YEAR)["closed_business"] == 0, "idempotent"


def test_every_tenant_table_is_covered_by_a_closure_rule(owner_conn: psycopg.Connection) -> None:
    covered = {purge.table for purge in (*closure.REST, *closure.DOCUMENTS)} | {
        "login_index",
        "file_chunks",
    }  # (chunks go with their file)
    tables = {
        name
        for (name,) in owner_conn.execute(
            "select c.relname from pg_class c join pg_attribute a on a.attrelid = c.oid "
            "and a.attname = 'tenant_id' and not a.attisdropped join pg_namespace n "
            "on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r'"
        ).fetchall()
    }
    missing = tables - covered
    if missing:
        pytest.fail(f"a closed business's rows in {sorted(missing)} would never be deleted")
