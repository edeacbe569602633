"""marketing consent: opt-out and opt-in per contact, with its history

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 17:20:00

POPIA s69: a customer may object to direct marketing at any time, and the business must be
able to show when and how they did.

- `contacts.marketing_opted_out_at` / `marketing_opt_out_note`: the current state, on the
  contact itself so a send (conversations.send) and a broadcast's audience read it without a
  join. NULL means opted in (the default: a customer who writes to the business may be sent
  its offers until they say STOP). The note says how ("replied STOP", "recorded by Thandi:
  asked on the phone"), for the refusal message.
- `marketing_consent_events`: every change, append-only (the proof). Keyed and linked with
  tenant_id first; deleted with its contact (a contact can only be deleted while unused, and
  a merge moves the rows to the kept contact first). The member who recorded a change by
  hand is kept by id and name, without a foreign key, so removing a member keeps the record.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from clientcompass.migrations.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "contacts",
        sa.Column("marketing_opted_out_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "contacts",
        sa.Column(
            "marketing_opt_out_note", sa.String(length=300), nullable=False, server_default=""
        ),
    )
    op.create_table(
        "marketing_consent_events",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("contact_id", sa.UUID(), nullable=False),
        sa.Column("opted_in", sa.Boolean(), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("keyword", sa.String(length=40), nullable=False, server_default=""),
        sa.Column("language", sa.String(length=8), nullable=False, server_default=""),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("member_id", sa.UUID(), nullable=True),
        sa.Column("member_name", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("message_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_marketing_consent_events"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name="fk_marketing_consent_events_tenant_id_contacts",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_marketing_consent_events_tenant_id_contact_id_created_at",
        "marketing_consent_events",
        ["tenant_id", "contact_id", "created_at"],
    )
    enable_tenant_rls("marketing_consent_events")


def downgrade() -> None:
    disable_tenant_rls("marketing_consent_events")
    op.drop_index(
        "ix_marketing_consent_events_tenant_id_contact_id_created_at",
        table_name="marketing_consent_events",
    )
    op.drop_table("marketing_consent_events")
    op.drop_column("contacts", "marketing_opt_out_note")
    op.drop_column("contacts", "marketing_opted_out_at")
