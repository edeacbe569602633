"""leads and their stages

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 17:20:00

- `leads`: what a customer wants (service, suburb, urgency, photos, a flow's answers, an
  estimated value in cents, the ad that sent them) and where it stands
  (new → contacted → quoted → won / lost). A lead belongs to a contact (deleted with it: a
  contact is deleted only when nothing else refers to it) and, when it came from WhatsApp,
  to that conversation (the merge repoints both).
- `lead_stage_changes`: every move with who made it and, for a lost lead, why; the reports'
  conversion figures read the stage a lead reached, not only where it is now.
- `documents.lead_id`: the lead a quote was made from, so its acceptance wins the lead.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from clientcompass.migrations.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("contact_id", sa.UUID(), nullable=False),
        sa.Column("conversation_id", sa.UUID(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("suburb", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("urgency", sa.String(length=40), nullable=False, server_default=""),
        sa.Column("photos", JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("answers", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("estimated_value_cents", sa.BigInteger(), nullable=True),
        sa.Column("owner_id", sa.UUID(), nullable=True),
        sa.Column("lost_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("referral", JSONB(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column(
            "stage_changed_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False
        ),
        sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_leads"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name="fk_leads_tenant_id_contacts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "conversation_id"],
            ["conversations.tenant_id", "conversations.id"],
            name="fk_leads_tenant_id_conversations",
        ),
        sa.CheckConstraint("source IN ('flow', 'ad', 'manual', 'import')", name="ck_leads_source"),
        sa.CheckConstraint(
            "stage IN ('new', 'contacted', 'quoted', 'won', 'lost')", name="ck_leads_stage"
        ),
    )
    op.create_index(
        "ix_leads_tenant_id_stage_created_at", "leads", ["tenant_id", "stage", "created_at"]
    )
    op.create_index("ix_leads_tenant_id_created_at", "leads", ["tenant_id", "created_at"])
    op.create_index("ix_leads_tenant_id_contact_id", "leads", ["tenant_id", "contact_id"])
    op.create_index("ix_leads_tenant_id_conversation_id", "leads", ["tenant_id", "conversation_id"])
    enable_tenant_rls("leads")

    op.create_table(
        "lead_stage_changes",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("lead_id", sa.UUID(), nullable=False),
        sa.Column("from_stage", sa.String(length=10), nullable=True),
        sa.Column("to_stage", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_lead_stage_changes"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lead_id"],
            ["leads.tenant_id", "leads.id"],
            name="fk_lead_stage_changes_tenant_id_leads",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_lead_stage_changes_tenant_id_lead_id_at",
        "lead_stage_changes",
        ["tenant_id", "lead_id", "at"],
    )
    enable_tenant_rls("lead_stage_changes")

    op.add_column("documents", sa.Column("lead_id", sa.UUID(), nullable=True))
    op.create_foreign_key(
        "fk_documents_tenant_id_leads",
        "documents",
        "leads",
        ["tenant_id", "lead_id"],
        ["tenant_id", "id"],
    )
    op.create_index("ix_documents_tenant_id_lead_id", "documents", ["tenant_id", "lead_id"])


def downgrade() -> None:
    op.drop_index("ix_documents_tenant_id_lead_id", table_name="documents")
    op.drop_constraint("fk_documents_tenant_id_leads", "documents", type_="foreignkey")
    op.drop_column("documents", "lead_id")
    disable_tenant_rls("lead_stage_changes")
    op.drop_table("lead_stage_changes")
    disable_tenant_rls("leads")
    op.drop_table("leads")
