"""flows: definitions, immutable versions

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 17:20:00

- `flows`: one row per flow a business builds: its name, the draft definition (flows/
  definition.py documents the JSON), the draft's trigger kind, and which version is live
  (none until the first publish). Editing changes only the draft.
- `flow_versions`: what publishing froze, numbered 1, 2, … per flow. A run pins its version
  (the runtime's table will point here), so a version is never rewritten or removed:
  `cc_flow_versions_immutable` refuses UPDATE and DELETE in the database itself, whatever
  code path asks.
Business hours need no table: they live in tenant_settings under `business.hours`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from clientcompass.migrations.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IMMUTABLE = """
CREATE FUNCTION cc_flow_versions_immutable() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'flow version % of flow % is published and cannot change', OLD.number,
        OLD.flow_id USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER flow_versions_immutable BEFORE UPDATE OR DELETE ON flow_versions
    FOR EACH ROW EXECUTE FUNCTION cc_flow_versions_immutable();
"""


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("trigger_kind", sa.String(length=40), nullable=False),
        sa.Column("draft", JSONB(), nullable=False),
        sa.Column("live_version", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_flows"),
    )
    enable_tenant_rls("flows")
    op.create_table(
        "flow_versions",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("flow_id", sa.UUID(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("trigger_kind", sa.String(length=40), nullable=False),
        sa.Column("definition", JSONB(), nullable=False),
        sa.Column(
            "published_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("published_by", sa.UUID(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "flow_id", "number", name="pk_flow_versions"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "flow_id"],
            ["flows.tenant_id", "flows.id"],
            name="fk_flow_versions_tenant_id_flows",
        ),
    )
    enable_tenant_rls("flow_versions")
    op.execute(IMMUTABLE)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS flow_versions_immutable ON flow_versions")
    op.execute("DROP FUNCTION IF EXISTS cc_flow_versions_immutable()")
    disable_tenant_rls("flow_versions")
    op.drop_table("flow_versions")
    disable_tenant_rls("flows")
    op.drop_table("flows")
