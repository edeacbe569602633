"""The tenant wall, tested as the app's real non-owner role."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy import text

from clientcompass.db import Database, create_engine
from clientcompass.errors import ConfigurationError
from tests.conftest import Databases
from tests.support.accounts import sign_up
from tests.support.aio import run_async


def set_tenant(conn: psycopg.Connection, tenant_id: uuid.UUID) -> None:
    conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant_id),))


@pytest.fixture
def two_tenants(live_server: object) -> tuple[uuid.UUID, uuid.UUID]:
    with httpx.Client(base_url=live_server.url) as a, httpx.Client(base_url=live_server.url) as b:  # type: ignore[attr-defined]
        return sign_up(a).tenant_id, sign_up(b).tenant_id


def test_tenant_cannot_read_update_or_delete_another_tenants_rows(
    app_conn: psycopg.Connection, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    tenant_a, tenant_b = two_tenants
    with app_conn.transaction():
        set_tenant(app_conn, tenant_a)
        assert app_conn.execute(
            "select count(*) from users where tenant_id = %s", (tenant_a,)
        ).fetchone() == (1,)
        for table in ("users", "business_profiles", "tenants"):
            column = "id" if table == "tenants" else "tenant_id"
            rows = app_conn.execute(
                f"select * from {table} where {column} = %s", (tenant_b,)
            ).fetchall()
            assert rows == [], f"tenant A read tenant B's {table}"
        updated = app_conn.execute(
            "update users set name = 'pwned' where tenant_id = %s", (tenant_b,)
        )
        assert updated.rowcount == 0
        deleted = app_conn.execute(
            "delete from business_profiles where tenant_id = %s", (tenant_b,)
        )
        assert deleted.rowcount == 0
    with app_conn.transaction():
        set_tenant(app_conn, tenant_b)
        names = app_conn.execute("select name from users").fetchall()
        assert names == [("Thandi Owner",)]
        assert app_conn.execute("select count(*) from business_profiles").fetchone() == (1,)


def test_tenant_cannot_insert_a_row_stamped_with_another_tenant(
    app_conn: psycopg.Connection, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    tenant_a, tenant_b = two_tenants
    with (
        pytest.raises(pg_errors.InsufficientPrivilege, match="row-level security"),
        app_conn.transaction(),
    ):
        set_tenant(app_conn, tenant_a)
        app_conn.execute(
            "insert into tenant_settings (tenant_id, key, value) values (%s, 'x', '1')", (tenant_b,)
        )
    with pytest.raises(pg_errors.InsufficientPrivilege), app_conn.transaction():
        set_tenant(app_conn, tenant_a)
        app_conn.execute("update users set tenant_id = %s", (tenant_b,))


def test_no_tenant_set_sees_zero_rows(
    app_conn: psycopg.Connection, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    with app_conn.transaction():
        for table in ("tenants", "users", "business_profiles", "invitations", "api_tokens"):
            assert app_conn.execute(f"select count(*) from {table}").fetchone() == (0,), table
    with app_conn.transaction():
        app_conn.execute("select set_config('app.tenant_id', '', true)")
        assert app_conn.execute("select count(*) from users").fetchone() == (0,)


def test_pooled_connection_does_not_carry_the_tenant_into_the_next_transaction(
    migrated: Databases, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    tenant_a, _ = two_tenants

    async def scenario() -> tuple[int, int, str | None]:
        db = Database(create_engine(migrated.app_url, pool_size=1))
        db.engine.pool._max_overflow = 0  # type: ignore[attr-defined]  # one connection, reused
        try:
            async with db.unit_of_work(tenant_a) as uow:
                inside = (
                    await uow.session.execute(text("select count(*) from users"))
                ).scalar_one()
                first_pid = (
                    await uow.session.execute(text("select pg_backend_pid()"))
                ).scalar_one()
            async with db.unit_of_work() as uow:
                after = (await uow.session.execute(text("select count(*) from users"))).scalar_one()
                second_pid = (
                    await uow.session.execute(text("select pg_backend_pid()"))
                ).scalar_one()
                setting = (
                    await uow.session.execute(text("select current_setting('app.tenant_id', true)"))
                ).scalar_one()
            assert first_pid == second_pid, "the test must reuse the pooled connection"
            return inside, after, setting
        finally:
            await db.dispose()

    inside, after, setting = run_async(scenario)
    assert inside == 1
    assert after == 0
    assert not setting


def test_every_tenant_table_has_a_forced_fail_closed_policy(owner_conn: psycopg.Connection) -> None:
    tables = [
        row[0]
        for row in owner_conn.execute(
            "select distinct table_name from information_schema.columns "
            "where table_schema = 'public' and column_name = 'tenant_id'"
        ).fetchall()
    ]
    assert len(tables) >= 7
    for table in [*tables, "tenants"]:
        enabled, forced = owner_conn.execute(
            "select relrowsecurity, relforcerowsecurity from pg_class "
            "where relname = %s and relnamespace = 'public'::regnamespace",
            (table,),
        ).fetchone()  # type: ignore[misc]
        assert enabled and forced, f"{table} lacks ENABLE + FORCE ROW LEVEL SECURITY"
        policies = owner_conn.execute(
            "select qual, with_check from pg_policies where tablename = %s and policyname = 'tenant_isolation'",
            (table,),
        ).fetchall()
        assert len(policies) == 1, f"{table} has no tenant_isolation policy"
        qual, with_check = policies[0]
        for clause in (qual, with_check):
            assert "current_setting('app.tenant_id'::text, true)" in clause, f"{table}: {clause}"
            assert "NULLIF" in clause, f"{table} does not fail closed: {clause}"


def test_app_role_cannot_bypass_rls_or_touch_the_login_index(app_conn: psycopg.Connection) -> None:
    superuser, bypass = app_conn.execute(
        "select rolsuper, rolbypassrls from pg_roles where rolname = current_user"
    ).fetchone()  # type: ignore[misc]
    assert not superuser and not bypass
    with pytest.raises(pg_errors.InsufficientPrivilege):
        app_conn.execute("select * from login_index")
    app_conn.rollback()


def test_login_index_registration_is_limited_to_the_current_tenant(
    app_conn: psycopg.Connection, two_tenants: tuple[uuid.UUID, uuid.UUID]
) -> None:
    tenant_a, tenant_b = two_tenants
    with pytest.raises(pg_errors.InsufficientPrivilege), app_conn.transaction():
        set_tenant(app_conn, tenant_a)
        app_conn.execute(
            "select cc_login_register(%s, %s, %s)", ("evil@example.com", tenant_b, uuid.uuid4())
        )


def test_app_refuses_a_role_that_can_bypass_rls(migrated: Databases) -> None:
    async def check() -> None:
        db = Database(create_engine(migrated.owner_url, pool_size=1))
        try:
            await db.assert_cannot_bypass_rls()
        finally:
            await db.dispose()

    superuser = (
        psycopg.connect(migrated.owner_url)
        .execute("select rolsuper or rolbypassrls from pg_roles where rolname = current_user")
        .fetchone()
    )
    if not superuser or not superuser[0]:
        pytest.skip("the owner role here is not a superuser, so there is no bypassing role to try")
    with pytest.raises(ConfigurationError, match="bypass row-level security"):
        run_async(check)
