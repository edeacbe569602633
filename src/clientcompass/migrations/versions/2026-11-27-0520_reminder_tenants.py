"""reminder tenants: which businesses have payment reminders on (ids only, for the schedule)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 05:20:00

The hourly reminders job must find the businesses with reminders on, which crosses tenants.
As with `cc_templates_pending`, it goes through one narrow SECURITY DEFINER function that
returns tenant ids only; each business's reminders then run in a unit of work scoped to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REMINDER_TENANTS = """
CREATE FUNCTION cc_reminder_tenants()
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.tenant_id FROM tenant_settings s JOIN tenants t ON t.id = s.tenant_id
    WHERE s.key = 'documents.reminders' AND s.value->>'enabled' = 'true' AND t.closed_at IS NULL
$$
"""


def upgrade() -> None:
    # FORCE RLS binds the owner too: these policies let the function (run as the owner)
    # read just what it needs.
    op.execute(
        "CREATE POLICY owner_reminders_scan ON tenant_settings FOR SELECT TO CURRENT_USER "
        "USING (key = 'documents.reminders')"
    )
    op.execute(
        "CREATE POLICY owner_reminders_scan ON tenants FOR SELECT TO CURRENT_USER USING (true)"
    )
    op.execute(REMINDER_TENANTS)
    op.execute("REVOKE ALL ON FUNCTION cc_reminder_tenants() FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cc_reminder_tenants()")
    op.execute("DROP POLICY IF EXISTS owner_reminders_scan ON tenants")
    op.execute("DROP POLICY IF EXISTS owner_reminders_scan ON tenant_settings")
