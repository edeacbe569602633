"""retention and Meta data-deletion requests

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 17:00:00

- `cc_retention_due(rule, before)`: the retention jobs (lifecycle/retention.py) find which
  businesses have rows past their keeping period, across tenants, only through this one
  function. It runs as the owner, reads (never writes), and returns each business's id with
  how many of its rows are due: no row content. Each business's rows are then deleted in
  its own unit of work, as the app role, behind the tenant wall. The owner's read-only
  policies below let the function see every business's rows (the tables force RLS on the
  owner too), and only the owner has them.
- `meta_deletion_requests`: Meta's data-deletion callback (lifecycle/meta.py) records each
  request, keyed by a confirmation code. It is the operator's record, not a business's data:
  Meta names a person by its app-scoped user id and no business is known, so the table has
  no `tenant_id` and no tenant policy; under Citus it stays on the coordinator
  (migrations/distribution.py). The app role reads it only by confirmation code.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tenant tables a retention rule scans, and the conditions that make a row due. The
# same conditions are in lifecycle/retention.py, which deletes; tests/retention checks that
# what this counts is what that deletes.
RETENTION_DUE = """
CREATE FUNCTION cc_retention_due(p_rule text, p_before timestamptz)
RETURNS TABLE (tenant_id uuid, due bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_rule = 'invitations' THEN
        RETURN QUERY SELECT i.tenant_id, count(*) FROM invitations i
            WHERE i.expires_at < p_before OR i.accepted_at < p_before
               OR i.revoked_at < p_before
            GROUP BY i.tenant_id;
    ELSIF p_rule = 'password_resets' THEN
        RETURN QUERY SELECT r.tenant_id, count(*) FROM password_resets r
            WHERE r.expires_at < p_before OR r.used_at < p_before
            GROUP BY r.tenant_id;
    ELSIF p_rule = 'webhook_deliveries' THEN
        RETURN QUERY SELECT d.tenant_id, count(*) FROM webhook_deliveries d
            WHERE d.created_at < p_before
            GROUP BY d.tenant_id;
    ELSIF p_rule = 'email_changes' THEN
        RETURN QUERY SELECT c.tenant_id, count(*) FROM email_changes c
            WHERE COALESCE(c.used_at, c.expires_at) < p_before
            GROUP BY c.tenant_id;
    ELSIF p_rule = 'audit_trail' THEN
        RETURN QUERY SELECT a.tenant_id, count(*) FROM audit_events a
            WHERE a.at < p_before
            GROUP BY a.tenant_id;
    ELSE
        RAISE EXCEPTION 'unknown retention rule %', p_rule USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$
"""

SCANNED = ("invitations", "password_resets", "webhook_deliveries", "email_changes", "audit_events")


def upgrade() -> None:
    for table in SCANNED:
        op.execute(
            f"CREATE POLICY owner_retention_scan ON {table} FOR SELECT TO CURRENT_USER USING (true)"
        )
    op.execute(RETENTION_DUE)
    op.execute("REVOKE ALL ON FUNCTION cc_retention_due(text, timestamptz) FROM PUBLIC")

    op.create_table(
        "meta_deletion_requests",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("confirmation_code", sa.String(length=40), nullable=False),
        sa.Column("meta_user_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meta_deletion_requests")),
        sa.UniqueConstraint(
            "confirmation_code", name=op.f("uq_meta_deletion_requests_confirmation_code")
        ),
    )


def downgrade() -> None:
    op.drop_table("meta_deletion_requests")
    op.execute("DROP FUNCTION IF EXISTS cc_retention_due(text, timestamptz)")
    for table in SCANNED:
        op.execute(f"DROP POLICY IF EXISTS owner_retention_scan ON {table}")
