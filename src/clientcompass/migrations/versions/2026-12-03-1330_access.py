"""access control: revoking tokens, removing members, one owner always

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 13:30:00

A removed member keeps their row (their name stays on the conversations and documents they
touched) but is marked inactive, with who removed them and when. API tokens already carry
`revoked_at`; nothing else changes in the schema. The "at least one owner" rule is kept by
the team service under a lock on the business's row (see team/service.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("removed_by", sa.UUID(), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "removed_by")
    op.drop_column("users", "removed_at")
