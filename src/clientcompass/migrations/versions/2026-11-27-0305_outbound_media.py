"""outbound media: a file can be uploaded before the message that sends it exists

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 03:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("message_media", "message_id", existing_type=sa.UUID(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM message_media WHERE message_id IS NULL")
    op.alter_column("message_media", "message_id", existing_type=sa.UUID(), nullable=False)
