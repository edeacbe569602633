"""The retention rules with the clock moved: a row just younger than its keeping period stays,
one just older goes; a second run deletes nothing more; a dry run deletes nothing; each
business's rows are deleted behind its own tenant wall; and no rule touches documents."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from clientcompass.config import Settings
from clientcompass.lifecycle import retention
from clientcompass.lifecycle.metrics import RetentionCollector
from clientcompass.lifecycle.tasks import RETENTION_TASK
from tests.support import factories
from tests.support.aio import run_async
from tests.support.worker import run_queued_jobs

HOUR = timedelta(hours=1)


@contextmanager
def as_tenant(conn: psycopg.Connection, tenant: uuid.UUID) -> Iterator[psycopg.Connection]:
    with conn.transaction():
        conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        yield conn


def run(
    settings: Settings, now: datetime, *, dry_run: bool = False, batch: int = retention.BATCH
) -> dict[str, int]:
    outcomes = factories.run(
        settings,
        lambda services: retention.run(
            services.unit_of_work, settings, now, dry_run=dry_run, batch=batch
        ),
    )
    return {outcome.rule.name: outcome.count for outcome in outcomes}


def exists(conn: psycopg.Connection, tenant: uuid.UUID, table: str, row_id: uuid.UUID) -> bool:
    with as_tenant(conn, tenant):
        found = conn.execute(
            f"select count(*) from {table} where tenant_id = %s and id = %s",
            (tenant, row_id),
        ).fetchone()
    return found == (1,)


def plant_tokens(
    conn: psycopg.Connection, tenant: uuid.UUID, user: uuid.UUID, at: datetime
) -> dict[str, tuple[str, uuid.UUID]]:
    """Invitations and password resets that stopped working at `at`, one still pending."""
    rows: dict[str, tuple[str, uuid.UUID]] = {}
    with as_tenant(conn, tenant):
        for name, expires, accepted, revoked in (
            ("invitation_expired", at, None, None),
            ("invitation_accepted", at + timedelta(days=6), at, None),
            ("invitation_revoked", at + timedelta(days=6), None, at),
            ("invitation_pending", at + timedelta(days=400), None, None),
        ):
            row = uuid.uuid4()
            conn.execute(
                "insert into invitations (tenant_id, id, token_hash, email, role, expires_at, "
                "accepted_at, revoked_at, created_at) values (%s, %s, %s, %s, 'agent', %s, %s, "
                "%s, %s)",
                (
                    tenant,
                    row,
                    uuid.uuid4().hex,
                    f"{name}@example.co.za",
                    expires,
                    accepted,
                    revoked,
                    at,
                ),
            )
            rows[name] = ("invitations", row)
        for name, expires, used in (
            ("reset_expired", at, None),
            ("reset_used", at + HOUR, at),
            ("reset_pending", at + timedelta(days=400), None),
        ):
            row = uuid.uuid4()
            conn.execute(
                "insert into password_resets (tenant_id, id, token_hash, user_id, expires_at, "
                "used_at, created_at) values (%s, %s, %s, %s, %s, %s, %s)",
                (tenant, row, uuid.uuid4().hex, user, expires, used, at),
            )
            rows[name] = ("password_resets", row)
    return rows


def plant_delivery(conn: psycopg.Connection, tenant: uuid.UUID, at: datetime) -> uuid.UUID:
    subscription, delivery = uuid.uuid4(), uuid.uuid4()
    with as_tenant(conn, tenant):
        conn.execute(
            "insert into webhook_subscriptions (tenant_id, id, url, events, secret_sealed) "
            "values (%s, %s, 'https://hooks.example.co.za/in', array['lead.created'], 'x')",
            (tenant, subscription),
        )
        conn.execute(
            "insert into webhook_deliveries (tenant_id, id, subscription_id, event_id, "
            "message_id, event_type, payload, status, created_at) values (%s, %s, %s, %s, %s, "
            "'lead.created', %s, 'delivered', %s)",
            (
                tenant,
                delivery,
                subscription,
                uuid.uuid4().hex,
                uuid.uuid4().hex,
                json.dumps({"email": "customer@example.co.za"}),
                at,
            ),
        )
    return delivery


def plant_job(conn: psycopg.Connection, status: str, at: datetime) -> int:
    """A job in `status` whose event history ends at `at` (procrastinate dates jobs by it)."""
    row = conn.execute(
        "insert into procrastinate_jobs (queue_name, task_name, args, status) "
        "values ('retention-test', 'send_email', %s, %s) returning id",
        (json.dumps({"to": "person@example.co.za", "body": "https://reset/link"}), status),
    ).fetchone()
    assert row is not None
    conn.execute(
        "insert into procrastinate_events (job_id, type, at) values "
        "(%s, 'deferred', %s), (%s, 'started', %s)",
        (row[0], at - HOUR, row[0], at),
    )
    return int(row[0])


def jobs_left(conn: psycopg.Connection, ids: list[int]) -> set[int]:
    return {
        job_id
        for (job_id,) in conn.execute(
            "select id from procrastinate_jobs where id = any(%s)", (ids,)
        ).fetchall()
    }


def events_left(conn: psycopg.Connection, ids: list[int]) -> int:
    row = conn.execute(
        "select count(*) from procrastinate_events where job_id = any(%s)", (ids,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_tokens_are_kept_30_days_after_they_stop_working_in_every_business(
    settings: Settings, owner_conn: psycopg.Connection
) -> None:
    now = datetime.now(UTC)
    businesses = [factories.business_with_owner(settings) for _ in range(2)]
    planted = [plant_tokens(owner_conn, b.tenant_id, b.user_id, now) for b in businesses]
    gone = {
        "invitation_expired",
        "invitation_accepted",
        "invitation_revoked",
        "reset_expired",
        "reset_used",
    }

    def present() -> dict[tuple[int, str], bool]:
        return {
            (index, name): exists(owner_conn, businesses[index].tenant_id, table, row)
            for index, rows in enumerate(planted)
            for name, (table, row) in rows.items()
        }

    # 30 days less an hour on: nothing of ours is due, a dry run or not.
    early = now + timedelta(days=30) - HOUR
    run(settings, early)
    assert all(present().values())

    # 30 days and an hour on: the dry run counts them all and deletes none.
    late = now + timedelta(days=30) + HOUR
    counted = run(settings, late, dry_run=True)
    assert counted["invitations"] >= 3 * len(businesses)
    assert counted["password_resets"] >= 2 * len(businesses)
    assert all(present().values()), "a dry run deleted something"

    # The real run, in batches of 1: exactly what the dry run counted, in both businesses.
    deleted = run(settings, late, batch=1)
    assert deleted["invitations"] == counted["invitations"]
    assert deleted["password_resets"] == counted["password_resets"]
    assert present() == {
        (index, name): name not in gone for index in range(2) for name in planted[index]
    }

    # Again: idempotent.
    again = run(settings, late)
    assert again["invitations"] == 0 and again["password_resets"] == 0
    assert run(settings, late, dry_run=True)["invitations"] == 0


def test_webhook_deliveries_are_kept_90_days(
    settings: Settings, owner_conn: psycopg.Connection
) -> None:
    now = datetime.now(UTC)
    business = factories.business_with_owner(settings)
    older = plant_delivery(owner_conn, business.tenant_id, now - HOUR)
    newer = plant_delivery(owner_conn, business.tenant_id, now + HOUR)

    later = now + timedelta(days=90)
    assert run(settings, later, dry_run=True)["webhook_deliveries"] >= 1
    assert exists(owner_conn, business.tenant_id, "webhook_deliveries", older)
    assert run(settings, later)["webhook_deliveries"] >= 1
    assert not exists(owner_conn, business.tenant_id, "webhook_deliveries", older)
    assert exists(owner_conn, business.tenant_id, "webhook_deliveries", newer)
    assert run(settings, later)["webhook_deliveries"] == 0


def test_finished_jobs_go_after_7_days_with_their_events_and_unfinished_ones_stay(
    settings: Settings, owner_conn: psycopg.Connection
) -> None:
    now = datetime.now(UTC)
    finished = [
        plant_job(owner_conn, s, now) for s in ("succeeded", "failed", "cancelled", "aborted")
    ]
    younger = plant_job(owner_conn, "succeeded", now + 2 * HOUR)
    unfinished = [plant_job(owner_conn, s, now) for s in ("todo", "doing")]
    try:
        check_jobs(settings, owner_conn, now, finished, younger, unfinished)
    finally:
        owner_conn.execute("delete from procrastinate_jobs where id = any(%s)", (unfinished,))


def check_jobs(
    settings: Settings,
    owner_conn: psycopg.Connection,
    now: datetime,
    finished: list[int],
    younger: int,
    unfinished: list[int],
) -> None:
    ours = [*finished, younger, *unfinished]
    assert run(settings, now + timedelta(days=7) - HOUR)["finished_jobs"] >= 0
    assert jobs_left(owner_conn, ours) == set(ours)

    late = now + timedelta(days=7) + HOUR
    counted = run(settings, late, dry_run=True)["finished_jobs"]
    assert counted >= len(finished)
    assert jobs_left(owner_conn, ours) == set(ours), "a dry run deleted something"

    assert run(settings, late, batch=2)["finished_jobs"] >= len(finished)
    assert jobs_left(owner_conn, ours) == {younger, *unfinished}
    assert events_left(owner_conn, finished) == 0, "their events (with the links) stay"
    assert events_left(owner_conn, [younger]) == 2
    assert run(settings, late)["finished_jobs"] == 0


def test_temporary_media_is_counted_and_left_to_the_hourly_purge(
    settings: Settings, owner_conn: psycopg.Connection
) -> None:
    media = retention.rule_named("temporary_media")
    assert media.delete is None and "whatsapp.purge_expired_media" in media.handled_by
    now = datetime.now(UTC)
    business = factories.business_with_owner(settings)
    file_id = uuid.uuid4()
    with as_tenant(owner_conn, business.tenant_id):
        owner_conn.execute(
            "insert into files (tenant_id, id, retention, content_type, size, sha256, "
            "chunk_size, created_at) values (%s, %s, 'temporary', 'image/png', 0, %s, 1, %s)",
            (business.tenant_id, file_id, "0" * 64, now),
        )
    days = timedelta(days=settings.media_retention_days)
    before = run(settings, now + days - HOUR, dry_run=True)["temporary_media"]
    after = run(settings, now + days + HOUR, dry_run=True)["temporary_media"]
    assert after >= before + 1
    outcomes = factories.run(
        settings, lambda services: retention.run(services.unit_of_work, settings, now + days + HOUR)
    )
    [outcome] = [o for o in outcomes if o.rule is media]
    assert outcome.as_dict()["would_delete"] == after and "deleted" not in outcome.as_dict()
    assert exists(owner_conn, business.tenant_id, "files", file_id), "the purge's to delete"
    with as_tenant(owner_conn, business.tenant_id):
        owner_conn.execute("delete from files where id = %s", (file_id,))


# Issued tax invoices and credit notes, their lines, events, payments and numbering: kept
# at least 5 years from issue (the legal hold). A rule on these needs that review first.
DOCUMENT_TABLES = {
    "documents",
    "document_lines",
    "document_events",
    "document_counters",
    "payments",
}


# The rules reviewed for the legal hold, each with its own clock-moved test: the erased
# customer's invoices anonymised 5 years after issue (tests/erasure), and a closed business's
# documents 5 years after issue, then the rest (tests/closure/test_retention.py).
REVIEWED_FOR_THE_HOLD = {
    "legal_hold",
    "closed_business_documents",
    "closed_business_conversations",
    "closed_business",
}


def test_no_rule_deletes_documents(owner_conn: psycopg.Connection) -> None:
    """Only the rules reviewed for the legal hold name a document table."""
    for rule in retention.RULES:
        if rule.name not in REVIEWED_FOR_THE_HOLD:
            assert not set(rule.tables) & DOCUMENT_TABLES, rule.name
    statements = [
        str(clause)
        for clause in (
            retention.JOBS_DELETE,
            retention.INVITATIONS.delete_batch,
            retention.PASSWORD_RESETS.delete_batch,
            retention.WEBHOOK_DELIVERIES.delete_batch,
        )
    ]
    row = owner_conn.execute(
        "select pg_get_functiondef('cc_retention_due(text, timestamptz)'::regprocedure)"
    ).fetchone()
    assert row is not None
    for statement in [*statements, row[0]]:
        assert "document" not in statement.lower() and "payments" not in statement.lower()
    # The names are what the schema calls them (a renamed table would slip past the check).
    names = {
        name
        for (name,) in owner_conn.execute(
            "select tablename from pg_tables where schemaname = 'public'"
        ).fetchall()
    }
    assert names >= DOCUMENT_TABLES
    for rule in retention.RULES:
        assert set(rule.tables) <= names, rule.name


def test_the_daily_job_runs_every_rule_and_exports_its_counts(
    settings: Settings, owner_conn: psycopg.Connection, redis_url: str
) -> None:
    now = datetime.now(UTC)
    business = factories.business_with_owner(settings)
    planted = plant_tokens(owner_conn, business.tenant_id, business.user_id, now)
    at = now + timedelta(days=31)

    factories.run(
        settings,
        lambda services: services.job_app.configure_task(RETENTION_TASK).defer_async(
            timestamp=int(at.timestamp())
        ),
    )
    run_async(lambda: run_queued_jobs(settings))

    table, expired = planted["invitation_expired"]
    assert not exists(owner_conn, business.tenant_id, table, expired)
    table, pending = planted["invitation_pending"]
    assert exists(owner_conn, business.tenant_id, table, pending)
    families = {family.name: family for family in RetentionCollector(redis_url).collect()}
    deleted = {
        s.labels["rule"]: s.value
        for s in families["clientcompass_retention_deleted"].samples
        if s.name.endswith("_total")
    }
    assert deleted["invitations"] >= 3 and deleted["password_resets"] >= 2
    assert "clientcompass_retention_last_run_timestamp_seconds" in families


@pytest.mark.parametrize("name", [rule.name for rule in retention.RULES])
def test_every_rule_says_what_it_removes(name: str) -> None:
    rule = retention.rule_named(name)
    assert rule.removes and rule.tables and (rule.delete is not None or rule.handled_by)


def test_the_cross_tenant_scan_returns_counts_only_and_knows_its_rules(
    settings: Settings, owner_conn: psycopg.Connection, app_conn: psycopg.Connection
) -> None:
    now = datetime.now(UTC)
    business = factories.business_with_owner(settings)
    plant_tokens(owner_conn, business.tenant_id, business.user_id, now - timedelta(days=40))
    with app_conn.transaction():
        # As the app role with no tenant set, the table itself shows nothing (the wall)…
        assert app_conn.execute("select count(*) from invitations").fetchone() == (0,)
        # …and the scan shows which businesses have how many due rows, nothing more.
        rows = app_conn.execute(
            "select * from cc_retention_due('invitations', %s)", (now - timedelta(days=30),)
        )
        assert [column.name for column in rows.description or []] == ["tenant_id", "due"]
        assert (business.tenant_id, 3) in rows.fetchall()
    with pytest.raises(psycopg.errors.InvalidParameterValue), app_conn.transaction():
        app_conn.execute("select * from cc_retention_due('documents', now())")


def plant_audit_event(conn: psycopg.Connection, tenant: uuid.UUID, at: datetime) -> uuid.UUID:
    event = uuid.uuid4()
    with as_tenant(conn, tenant):
        conn.execute(
            "insert into audit_events (tenant_id, id, at, action, ip, device) "
            "values (%s, %s, %s, 'sign_in', '198.51.100.7', 'Chrome on Android')",
            (tenant, event, at),
        )
    return event


def test_the_audit_trail_is_kept_90_days(
    settings: Settings, owner_conn: psycopg.Connection
) -> None:
    now = datetime.now(UTC)
    business = factories.business_with_owner(settings)
    older = plant_audit_event(owner_conn, business.tenant_id, now - HOUR)
    newer = plant_audit_event(owner_conn, business.tenant_id, now + HOUR)

    later = now + timedelta(days=90)
    assert run(settings, later, dry_run=True)["audit_trail"] >= 1
    assert exists(owner_conn, business.tenant_id, "audit_events", older)
    assert run(settings, later)["audit_trail"] >= 1
    assert not exists(owner_conn, business.tenant_id, "audit_events", older)
    assert exists(owner_conn, business.tenant_id, "audit_events", newer)
    assert run(settings, later)["audit_trail"] == 0
