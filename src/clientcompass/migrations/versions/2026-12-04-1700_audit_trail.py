"""audit trail, email changes, devices

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 17:00:00

- `audit_events`: who signed in (or failed to), changed access (passwords, emails, roles,
  removals, API tokens, sign-outs) or banking details, and, once those features land, who
  exported, erased or closed. IP and a short device label ("Chrome on Android"), never a
  secret or message text. `action` is a plain string (audit/AuditAction): a new action needs
  no migration. Kept 90 days: the retention job finds due tenants through
  `cc_audit_expired_tenants()` (tenant ids only, as the owner) and deletes per tenant.
- `email_changes`: a pending change of sign-in address; only the link's SHA-256 is stored,
  like `password_resets`. The old address signs in until the link is used.
  (Devices need no table: sessions live in Redis.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from clientcompass.migrations.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIT_EXPIRED_TENANTS = """
CREATE FUNCTION cc_audit_expired_tenants(p_before timestamptz, p_limit int)
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT DISTINCT a.tenant_id FROM audit_events a WHERE a.at < p_before LIMIT p_limit
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column(
            "target_kind", sa.String(length=40), server_default=sa.text("''"), nullable=False
        ),
        sa.Column("target_id", sa.UUID(), nullable=True),
        sa.Column(
            "target_label", sa.String(length=200), server_default=sa.text("''"), nullable=False
        ),
        sa.Column("ip", sa.String(length=64), server_default=sa.text("''"), nullable=False),
        sa.Column("device", sa.String(length=100), server_default=sa.text("''"), nullable=False),
        sa.Column("details", JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_tenant_id_at", "audit_events", ["tenant_id", "at"])
    op.create_index(
        "ix_audit_events_tenant_id_action_at", "audit_events", ["tenant_id", "action", "at"]
    )
    op.create_index(
        "ix_audit_events_tenant_id_actor_id_at", "audit_events", ["tenant_id", "actor_id", "at"]
    )
    enable_tenant_rls("audit_events")
    # The sweep runs SECURITY DEFINER as the owner, whom FORCE RLS binds too: it may read
    # (only read) every row, and returns tenant ids only.
    op.execute(
        "CREATE POLICY owner_audit_sweep ON audit_events FOR SELECT TO CURRENT_USER USING (true)"
    )
    op.execute(AUDIT_EXPIRED_TENANTS)

    op.create_table(
        "email_changes",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("new_email", sa.String(length=254), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_email_changes"),
        sa.UniqueConstraint(
            "tenant_id", "token_hash", name="uq_email_changes_tenant_id_token_hash"
        ),
    )
    op.create_index("ix_email_changes_tenant_id_user_id", "email_changes", ["tenant_id", "user_id"])
    enable_tenant_rls("email_changes")


def downgrade() -> None:
    disable_tenant_rls("email_changes")
    op.drop_table("email_changes")
    op.execute("DROP FUNCTION IF EXISTS cc_audit_expired_tenants(timestamptz, int)")
    op.execute("DROP POLICY IF EXISTS owner_audit_sweep ON audit_events")
    disable_tenant_rls("audit_events")
    op.drop_table("audit_events")
