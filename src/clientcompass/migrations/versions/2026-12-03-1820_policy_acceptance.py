"""privacy policy: which version each person accepted, and when

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 18:20:00

- `users.policy_version` / `users.policy_accepted_at`: set at sign-up and when a person reads a
  new version ("I've read it"); null for people who joined before the policy was served, who
  are shown the notice once like anyone on an older version.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("policy_version", sa.String(length=40), nullable=True))
    op.add_column(
        "users", sa.Column("policy_accepted_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("users", "policy_accepted_at")
    op.drop_column("users", "policy_version")
