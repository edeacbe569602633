"""document counters: gapless numbering scopes per business and document kind

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 03:14:53.170904
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clientcompass.migrations.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document_counters",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_document_counters_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "scope", name=op.f("pk_document_counters")),
    )

    enable_tenant_rls("document_counters")


def downgrade() -> None:
    disable_tenant_rls("document_counters")
    op.drop_table("document_counters")
