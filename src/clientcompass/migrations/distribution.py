"""The Citus plan, as data the tests hold the schema to (tests/core/test_distribution_ready.py).

Past one database server the plan is Citus: every table with a `tenant_id` column is
distributed by it, all in one colocation group, so a tenant's rows (and the joins between
them) live on one node. The few global tables are reference tables (a copy on every node),
and procrastinate's queue stays on the coordinator. A table or a function that nobody has
classified here fails the test, so the next migration cannot quietly break the plan.

`python -m clientcompass.migrations.distribution OWNER_URL` prints the Citus statements for
the database it is pointed at, in foreign-key order (deploy/CITUS.md).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from enum import StrEnum

import psycopg

DISTRIBUTION_COLUMN = "tenant_id"
# Global tables, copied to every node. A table here may carry a tenant_id (as a pointer, not
# its key), so it is exempt from "every key includes tenant_id"; say why it is global.
REFERENCE_TABLES: Mapping[str, str] = {
    "tenants": (
        "one small row per business, the target of every tenant table's foreign key: as a "
        "reference table each node checks those keys locally"
    ),
    "login_index": (
        "email -> business, read before any tenant is known (sign-in, password reset), and "
        "unique per email across all businesses; written only on sign-up and team changes"
    ),
}

# Left on the coordinator as plain tables: no tenant data, never joined with tenant tables.
COORDINATOR_TABLES: Mapping[str, str] = {
    "alembic_version": "the schema's revision, read by migrations only",
    "procrastinate_jobs": "the job queue (SELECT ... FOR UPDATE SKIP LOCKED, LISTEN/NOTIFY)",
    "procrastinate_events": "the job queue's history",
    "procrastinate_periodic_defers": "the scheduler's record of periodic jobs",
    "procrastinate_workers": "worker heartbeats",
    "meta_deletion_requests": (
        "Meta's data-deletion requests: the operator's record, keyed by Meta's user id and a "
        "confirmation code, never joined with tenant tables"
    ),
}


class FunctionUse(StrEnum):
    """Why a function the app role may call is safe once tables are sharded by tenant."""

    TENANT = (
        "per tenant: every statement filters on the tenant (app.tenant_id or its tenant "
        "argument), so each routes to that tenant's shard"
    )
    SWEEP = (
        "a job's cross-tenant scan: one read-only multi-shard SELECT returning (tenant_id, id) "
        "pairs, each then handled in its own tenant's transaction"
    )
    LOGIN = "reads or writes the login_index reference table only (by email, within the tenant)"
    LOOKUP = "reads one row by its id across shards to learn its tenant, before one is set"
    TRIGGER = (
        "a row trigger on a tenant table that reads only rows with the row's own tenant_id, "
        "which are on the same shard (colocated)"
    )
    QUEUE = "procrastinate's queue on the coordinator's local tables; touches no tenant data"


# Every function the app role has EXECUTE on (PostgreSQL grants it to PUBLIC by default).
APP_FUNCTIONS: Mapping[str, FunctionUse] = {
    "cc_record_inbound": FunctionUse.TENANT,
    "cc_push_targets": FunctionUse.TENANT,
    "cc_push_delivered": FunctionUse.TENANT,
    "cc_flow_state": FunctionUse.TENANT,
    "cc_set_conversation_status": FunctionUse.TENANT,
    "cc_inbox_search": FunctionUse.TENANT,
    "cc_login_lookup": FunctionUse.LOGIN,
    "cc_login_register": FunctionUse.LOGIN,
    "cc_login_remove": FunctionUse.LOGIN,
    "cc_document_tenant": FunctionUse.LOOKUP,
    "cc_outbox_stuck": FunctionUse.SWEEP,
    "cc_templates_pending": FunctionUse.SWEEP,
    "cc_snoozes_due": FunctionUse.SWEEP,
    "cc_reminder_tenants": FunctionUse.SWEEP,
    "cc_flow_due_tenants": FunctionUse.SWEEP,
    "cc_inbound_unhandled": FunctionUse.SWEEP,
    "cc_files_expired": FunctionUse.SWEEP,
    "cc_media_stuck": FunctionUse.SWEEP,
    "cc_digest_tenants": FunctionUse.SWEEP,
    "cc_retention_due": FunctionUse.SWEEP,
    "cc_legal_hold_due": FunctionUse.SWEEP,
    "cc_audit_expired_tenants": FunctionUse.SWEEP,
    "cc_closed_tenants": FunctionUse.SWEEP,
    "cc_policy_notice_due": FunctionUse.SWEEP,
    "cc_files_hold": FunctionUse.TRIGGER,
    "cc_file_chunks_guard": FunctionUse.TRIGGER,
    "cc_flow_versions_immutable": FunctionUse.TRIGGER,
    "procrastinate_defer_jobs_v1": FunctionUse.QUEUE,
    "procrastinate_defer_periodic_job_v2": FunctionUse.QUEUE,
    "procrastinate_fetch_job_v2": FunctionUse.QUEUE,
    "procrastinate_finish_job_v1": FunctionUse.QUEUE,
    "procrastinate_cancel_job_v1": FunctionUse.QUEUE,
    "procrastinate_retry_job_v1": FunctionUse.QUEUE,
    "procrastinate_retry_job_v2": FunctionUse.QUEUE,
    "procrastinate_notify_queue_job_inserted_v1": FunctionUse.QUEUE,
    "procrastinate_notify_queue_abort_job_v1": FunctionUse.QUEUE,
    "procrastinate_trigger_function_status_events_insert_v1": FunctionUse.QUEUE,
    "procrastinate_trigger_function_status_events_update_v1": FunctionUse.QUEUE,
    "procrastinate_trigger_function_scheduled_events_v1": FunctionUse.QUEUE,
    "procrastinate_trigger_abort_requested_events_procedure_v1": FunctionUse.QUEUE,
    "procrastinate_unlink_periodic_defers_v1": FunctionUse.QUEUE,
    "procrastinate_register_worker_v1": FunctionUse.QUEUE,
    "procrastinate_unregister_worker_v1": FunctionUse.QUEUE,
    "procrastinate_update_heartbeat_v1": FunctionUse.QUEUE,
    "procrastinate_prune_stalled_workers_v1": FunctionUse.QUEUE,
}

# The catalog queries the test and the statement generator share.
TABLES_SQL = """
SELECT c.relname,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
               AND a.attname = %(column)s AND NOT a.attisdropped) AS has_tenant
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""

FOREIGN_KEYS_SQL = """
SELECT con.conname, src.relname, dst.relname,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.i),
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.i)
FROM pg_constraint con
JOIN pg_class src ON src.oid = con.conrelid
JOIN pg_class dst ON dst.oid = con.confrelid
WHERE con.contype = 'f' AND con.connamespace = 'public'::regnamespace
ORDER BY 1
"""


def distributed_tables(tables: Iterable[tuple[str, bool]]) -> list[str]:
    """The tables distributed by tenant_id: every one with the column, except reference ones."""
    return sorted(
        name for name, has_tenant in tables if has_tenant and name not in REFERENCE_TABLES
    )


def citus_statements(distributed: Iterable[str], references: Mapping[str, set[str]]) -> list[str]:
    """create_reference_table then create_distributed_table calls, each table after the
    tables its foreign keys point at (Citus refuses a key to a table it does not manage yet).

    `references` maps a table to the tables it has foreign keys to.
    """
    order: list[str] = []
    todo = sorted(REFERENCE_TABLES) + sorted(distributed)
    wanted = set(todo)
    while todo:
        ready = [t for t in todo if (references.get(t, set()) & wanted) - {t} <= set(order)]
        if not ready:
            raise ValueError(f"foreign keys form a cycle among {todo}")
        order.extend(ready)
        todo = [t for t in todo if t not in ready]
    statements, anchor = [], ""
    for table in order:
        if table in REFERENCE_TABLES:
            statements.append(f"SELECT create_reference_table('{table}');")
            continue
        # The first distributed table opens the colocation group; the rest join it.
        statements.append(
            f"SELECT create_distributed_table('{table}', '{DISTRIBUTION_COLUMN}', "
            f"colocate_with => '{anchor or 'default'}');"
        )
        anchor = anchor or table
    return statements


def statements_for(conn: psycopg.Connection) -> list[str]:
    tables = conn.execute(TABLES_SQL, {"column": DISTRIBUTION_COLUMN}).fetchall()
    references: dict[str, set[str]] = {}
    for _name, source, target, _cols, _ref_cols in conn.execute(FOREIGN_KEYS_SQL):
        references.setdefault(source, set()).add(target)
    return citus_statements(distributed_tables(tables), references)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m clientcompass.migrations.distribution OWNER_URL", file=sys.stderr)
        return 2
    with psycopg.connect(argv[0]) as conn:
        print("\n".join(statements_for(conn)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
