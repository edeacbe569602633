"""Devices and choices belong to one person of one business: walled by RLS, gone when the
person is removed from the team or deleted."""

from __future__ import annotations

import uuid
from datetime import time

import httpx
import psycopg

from clientcompass.config import Settings
from clientcompass.models import Role
from clientcompass.notifications.preferences import Preferences
from tests.notifications.test_fanout import add_device, choose
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.step_up import confirm_headers

TABLES = ("push_subscriptions", "notification_preferences")


def count(conn: psycopg.Connection, table: str, user_id: uuid.UUID) -> int:
    found = conn.execute(
        f"select count(*) from {table} where user_id = %s",
        (user_id,),
    ).fetchone()
    assert found is not None
    return int(found[0])


def with_device_and_choices(settings: Settings, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    add_device(settings, tenant_id, user_id)
    choose(settings, tenant_id, user_id, Preferences(quiet_start=time(21), quiet_end=time(6)))


def test_another_business_sees_none_of_a_persons_devices_or_choices(
    settings: Settings, app_conn: psycopg.Connection, owner_conn: psycopg.Connection
) -> None:
    a = factories.business_with_owner(settings)
    b = factories.business_with_owner(settings)
    with_device_and_choices(settings, a.tenant_id, a.user_id)
    for table in TABLES:
        assert count(owner_conn, table, a.user_id) == 1
    with app_conn.transaction():
        app_conn.execute("select set_config('app.tenant_id', %s, true)", (str(b.tenant_id),))
        for table in TABLES:
            assert count(app_conn, table, a.user_id) == 0
            deleted = app_conn.execute(
                f"delete from {table} where user_id = %s",
                (a.user_id,),
            )
            assert deleted.rowcount == 0
    for table in TABLES:
        assert count(owner_conn, table, a.user_id) == 1


def test_the_push_jobs_one_statement_calls_keep_to_the_tenant_they_are_given(
    settings: Settings, app_conn: psycopg.Connection, owner_conn: psycopg.Connection
) -> None:
    """cc_push_targets and cc_push_delivered (a push job's read and write, migration 0029)
    set the tenant themselves: named with another business, a device is neither read nor
    marked, and they leave no tenant behind on the connection."""
    a = factories.business_with_owner(settings)
    b = factories.business_with_owner(settings)
    device_id = add_device(settings, a.tenant_id, a.user_id)
    app_conn.autocommit = True
    read = app_conn.execute(
        "select id from cc_push_targets(%s, %s)", (b.tenant_id, [device_id])
    ).fetchall()
    assert read == []
    app_conn.execute("select cc_push_delivered(%s, %s, now())", (b.tenant_id, [device_id]))
    marked = owner_conn.execute(
        "select last_used_at from push_subscriptions where id = %s", (device_id,)
    ).fetchone()
    assert marked == (None,)
    # Its own business's call reads and marks it.
    assert app_conn.execute(
        "select id from cc_push_targets(%s, %s)", (a.tenant_id, [device_id])
    ).fetchall() == [(device_id,)]
    app_conn.execute("select cc_push_delivered(%s, %s, now())", (a.tenant_id, [device_id]))
    marked = owner_conn.execute(
        "select last_used_at is not null from push_subscriptions where id = %s", (device_id,)
    ).fetchone()
    assert marked == (True,)
    tenant = app_conn.execute("select current_setting('app.tenant_id', true)").fetchone()
    assert tenant in ((None,), ("",))


def test_a_removed_member_has_no_devices_left_and_a_deleted_user_takes_everything(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    owner = sign_up(client)
    settings = factories.settings_of(client)
    agent = factories.teammate(
        settings,
        owner.tenant_id,
        owner.user_id,
        email=factories.unique_email("a"),
        role=Role.AGENT,
        name="Ayanda",
    )
    with_device_and_choices(settings, owner.tenant_id, agent.user_id)
    removed = client.delete(f"/api/v1/members/{agent.user_id}", headers=confirm_headers(client))
    assert removed.status_code == 204, removed.text
    assert count(owner_conn, "push_subscriptions", agent.user_id) == 0

    # Deleting a person (the privacy lifecycle will) takes their devices and choices along.
    other = factories.teammate(
        settings,
        owner.tenant_id,
        owner.user_id,
        email=factories.unique_email("b"),
        role=Role.AGENT,
        name="Bongani",
    )
    with_device_and_choices(settings, owner.tenant_id, other.user_id)
    assert [count(owner_conn, table, other.user_id) for table in TABLES] == [1, 1]
    owner_conn.execute("delete from users where id = %s", (other.user_id,))
    assert [count(owner_conn, table, other.user_id) for table in TABLES] == [0, 0]
