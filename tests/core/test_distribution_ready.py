"""Ready for Citus: the migrated schema, read from the catalog, keeps the plan in
clientcompass.migrations.distribution. Every tenant table is keyed by tenant_id (Citus can
only enforce a unique key that contains the distribution column), keys between tenant
tables carry it (so joins and checks stay on one node), and every function the app role
can call has been classified as safe per tenant."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from clientcompass.migrations.distribution import (
    APP_FUNCTIONS,
    COORDINATOR_TABLES,
    DISTRIBUTION_COLUMN,
    FOREIGN_KEYS_SQL,
    REFERENCE_TABLES,
    TABLES_SQL,
    citus_statements,
    distributed_tables,
    statements_for,
)
from tests.conftest import APP_ROLE, Databases

# Unique constraints, primary keys, exclusion constraints and bare unique indexes alike.
UNIQUE_KEYS_SQL = """
SELECT t.relname, i.relname,
       ARRAY(SELECT a.attname::text FROM unnest(x.indkey) k(attnum)
             JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum)
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public'
  AND (x.indisunique OR x.indisexclusion OR x.indisprimary)
ORDER BY 1, 2
"""

# Functions outside the system schemas that the app role may run, skipping extensions' own.
CALLABLE_FUNCTIONS_SQL = """
SELECT DISTINCT p.proname
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  AND has_function_privilege(%(role)s, p.oid, 'EXECUTE')
ORDER BY 1
"""


@pytest.fixture(scope="module")
def owner_conn_module(migrated: Databases) -> Iterator[psycopg.Connection]:
    with psycopg.connect(migrated.owner_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def tables(owner_conn_module: psycopg.Connection) -> list[tuple[str, bool]]:
    rows = owner_conn_module.execute(TABLES_SQL, {"column": DISTRIBUTION_COLUMN}).fetchall()
    return [(name, has_tenant) for name, has_tenant in rows]


def test_every_table_is_distributed_reference_or_coordinator_local(
    tables: list[tuple[str, bool]],
) -> None:
    names = {name for name, _ in tables}
    unclassified = sorted(
        name
        for name, has_tenant in tables
        if not has_tenant and name not in REFERENCE_TABLES and name not in COORDINATOR_TABLES
    )
    assert unclassified == [], (
        f"global tables with no tenant_id and no place in the Citus plan: {unclassified}; add "
        "tenant_id, or list them in clientcompass.migrations.distribution with a reason"
    )
    stale = sorted((set(REFERENCE_TABLES) | set(COORDINATOR_TABLES)) - names)
    assert stale == [], f"the plan names tables that no longer exist: {stale}"
    assert "tenants" in REFERENCE_TABLES and len(distributed_tables(tables)) >= 15


def test_every_unique_key_on_a_tenant_table_includes_tenant_id(
    owner_conn_module: psycopg.Connection, tables: list[tuple[str, bool]]
) -> None:
    distributed = set(distributed_tables(tables))
    keys = owner_conn_module.execute(UNIQUE_KEYS_SQL).fetchall()
    checked = [(table, index, cols) for table, index, cols in keys if table in distributed]
    assert {table for table, _, _ in checked} >= {"messages", "documents", "users"}
    missing = [
        f"{table}.{index} {cols}"
        for table, index, cols in checked
        if DISTRIBUTION_COLUMN not in cols
    ]
    assert missing == [], f"unique keys Citus could not enforce per shard: {missing}"


def test_every_foreign_key_between_tenant_tables_carries_tenant_id(
    owner_conn_module: psycopg.Connection, tables: list[tuple[str, bool]]
) -> None:
    distributed = set(distributed_tables(tables))
    wrong = []
    between_tenant_tables = 0
    for name, source, target, columns, referenced in owner_conn_module.execute(FOREIGN_KEYS_SQL):
        pairs = set(zip(columns, referenced, strict=True))
        if source in distributed and target in distributed:
            between_tenant_tables += 1
            if (DISTRIBUTION_COLUMN, DISTRIBUTION_COLUMN) not in pairs:
                wrong.append(f"{name}: {source}{columns} -> {target}{referenced}")
        elif source in distributed:
            if target not in REFERENCE_TABLES:
                wrong.append(f"{name}: tenant table {source} -> non-reference table {target}")
        elif source in REFERENCE_TABLES:
            if target not in REFERENCE_TABLES:
                wrong.append(f"{name}: reference table {source} -> {target} (Citus refuses)")
        elif target in distributed or target in REFERENCE_TABLES:
            wrong.append(f"{name}: coordinator table {source} -> {target}")
    assert between_tenant_tables >= 10
    assert wrong == [], f"foreign keys that would cross shards under Citus: {wrong}"


def test_every_function_the_app_role_can_call_is_classified(
    owner_conn_module: psycopg.Connection,
) -> None:
    callable_ = {
        name for (name,) in owner_conn_module.execute(CALLABLE_FUNCTIONS_SQL, {"role": APP_ROLE})
    }
    assert "cc_record_inbound" in callable_
    unclassified = sorted(callable_ - set(APP_FUNCTIONS))
    assert unclassified == [], (
        f"functions the app role can run that nobody has classified as safe per tenant: "
        f"{unclassified}; add each to APP_FUNCTIONS in clientcompass.migrations.distribution"
    )
    stale = sorted(set(APP_FUNCTIONS) - callable_)
    assert stale == [], f"APP_FUNCTIONS lists functions the app role cannot call: {stale}"


def test_citus_statements_come_in_foreign_key_order(
    owner_conn_module: psycopg.Connection, tables: list[tuple[str, bool]]
) -> None:
    statements = statements_for(owner_conn_module)
    position = {s.split("'")[1]: i for i, s in enumerate(statements)}
    assert set(position) == set(REFERENCE_TABLES) | set(distributed_tables(tables))
    for _name, source, target, _c, _r in owner_conn_module.execute(FOREIGN_KEYS_SQL):
        if source in position and source != target:
            assert position[target] < position[source], f"{source} before {target}"
    first = next(s for s in statements if "create_distributed_table" in s)
    assert "colocate_with => 'default'" in first
    assert all(
        f"colocate_with => '{first.split(chr(39))[1]}'" in s
        for s in statements
        if "create_distributed_table" in s and s != first
    )


def test_a_foreign_key_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        citus_statements(["a", "b"], {"a": {"b"}, "b": {"a"}})
