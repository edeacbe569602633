"""templates sync: the periodic approval sync finds pending templates across tenants

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_FUNCTION = """
CREATE FUNCTION cc_templates_pending(p_limit int)
RETURNS TABLE (tenant_id uuid, template_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT t.tenant_id, t.id FROM message_templates t
    WHERE t.content_sid <> ''
      AND (t.status = 'pending'
        OR (t.status IN ('approved', 'paused')
            AND (t.synced_at IS NULL OR t.synced_at < now() - interval '1 hour')))
    ORDER BY t.synced_at NULLS FIRST, t.created_at
    LIMIT p_limit
$$
"""


def upgrade() -> None:
    # Ids only, through this owner-run function: WhatsApp can pause or disable an approved
    # template at any time, so every tenant's templates are re-checked periodically.
    op.execute(
        "CREATE POLICY owner_templates_sync ON message_templates FOR SELECT TO CURRENT_USER USING (true)"
    )
    op.execute(PENDING_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION cc_templates_pending(int) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cc_templates_pending(int)")
    op.execute("DROP POLICY IF EXISTS owner_templates_sync ON message_templates")
