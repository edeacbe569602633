"""exports

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 17:30:00

- `exports`: a business's or one customer's data export (lifecycle/export.py). The row is the
  job's record of intent and its progress (stage, done/total) for the page to poll; the
  finished ZIP is a temporary file row (`file_id`, files in PostgreSQL), deleted by the
  hourly sweep when the export expires 24 hours after it is ready. Tenant-walled (forced
  RLS); no foreign key to `files`, so deleting the ZIP never touches the export's record.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clientcompass.migrations.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.UUID(), nullable=True),
        sa.Column(
            "subject_label", sa.String(length=200), server_default=sa.text("''"), nullable=False
        ),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'queued'"), nullable=False
        ),
        sa.Column("stage", sa.String(length=40), server_default=sa.text("''"), nullable=False),
        sa.Column("done", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("file_id", sa.UUID(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("requested_by", sa.UUID(), nullable=False),
        sa.Column("error", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_exports"),
    )
    op.create_index("ix_exports_tenant_id_created_at", "exports", ["tenant_id", "created_at"])
    enable_tenant_rls("exports")


def downgrade() -> None:
    disable_tenant_rls("exports")
    op.drop_index("ix_exports_tenant_id_created_at", table_name="exports")
    op.drop_table("exports")
