"""account closure

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 17:30:00

- `cc_closed_tenants(before)`: the closure retention rules (lifecycle/closure.py) find the
  businesses closed before a cutoff only through this one function. It runs as the owner,
  reads (never writes) and returns each closed business's id and when it closed: no row
  content. Each business's rows are then deleted in its own unit of work, as the app role,
  behind the tenant wall. The owner's read-only policy on `tenants` below lets the function
  see every business's row (the table forces RLS on the owner too); only the owner has it.
- `cc_policy_notice_due(key, limit)`: the daily policy-change email (lifecycle/policy_notice.py) finds
  the open businesses whose owners have not yet been emailed about an upcoming policy
  version (no receipt `key` in `tenant_settings`). Read-only, ids only; each business's
  receipt and email are then written in its own unit of work as the app role.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLOSED_TENANTS = """
CREATE FUNCTION cc_closed_tenants(p_before timestamptz)
RETURNS TABLE (tenant_id uuid, closed_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT t.id, t.closed_at FROM tenants t
    WHERE t.closed_at IS NOT NULL AND t.closed_at < p_before
    ORDER BY t.closed_at
$$
"""


POLICY_NOTICE_DUE = """
CREATE FUNCTION cc_policy_notice_due(p_key text, p_limit int)
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT t.id FROM tenants t
    WHERE t.closed_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM tenant_settings s WHERE s.tenant_id = t.id AND s.key = p_key)
    ORDER BY t.id
    LIMIT p_limit
$$
"""


def upgrade() -> None:
    op.execute(
        "CREATE POLICY owner_closure_scan ON tenants FOR SELECT TO CURRENT_USER USING (true)"
    )
    op.execute(CLOSED_TENANTS)
    op.execute("REVOKE ALL ON FUNCTION cc_closed_tenants(timestamptz) FROM PUBLIC")
    op.execute(
        "CREATE POLICY owner_policy_notice_scan ON tenant_settings FOR SELECT TO CURRENT_USER "
        "USING (true)"
    )
    op.execute(POLICY_NOTICE_DUE)
    op.execute("REVOKE ALL ON FUNCTION cc_policy_notice_due(text, int) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cc_policy_notice_due(text, int)")
    op.execute("DROP POLICY IF EXISTS owner_policy_notice_scan ON tenant_settings")
    op.execute("DROP FUNCTION IF EXISTS cc_closed_tenants(timestamptz)")
    op.execute("DROP POLICY IF EXISTS owner_closure_scan ON tenants")
