"""documents: quotes, invoices, credit notes, lines, payments, events

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 04:33:00.536014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from clientcompass.migrations.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("documents", "document_events", "document_lines", "payments")


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("contact_id", sa.UUID(), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("recipient_vat_number", sa.String(length=10), nullable=False),
        sa.Column("billing_address", sa.Text(), nullable=False),
        sa.Column("service_address", sa.Text(), nullable=False),
        sa.Column("job_description", sa.Text(), nullable=False),
        sa.Column("price_mode", sa.String(length=10), nullable=False),
        sa.Column("rounding", sa.String(length=12), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("deposit_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("subtotal_excl_cents", sa.BigInteger(), nullable=False),
        sa.Column("vat_cents", sa.BigInteger(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("credited_cents", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.UUID(), nullable=True),
        sa.Column("invoice_part", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("pdf_key", sa.String(length=255), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("finalised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_documents_tenant_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "source_id"],
            ["documents.tenant_id", "documents.id"],
            name=op.f("fk_documents_tenant_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_documents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_documents")),
    )
    op.create_index(
        "ix_documents_tenant_id_contact_id", "documents", ["tenant_id", "contact_id"], unique=False
    )
    op.create_index(
        "ix_documents_tenant_id_kind_issue_date",
        "documents",
        ["tenant_id", "kind", "issue_date"],
        unique=False,
    )
    op.create_index(
        "ix_documents_tenant_id_source_id", "documents", ["tenant_id", "source_id"], unique=False
    )
    op.create_index(
        "uq_documents_tenant_id_kind_number",
        "documents",
        ["tenant_id", "kind", "number"],
        unique=True,
        postgresql_where=sa.text("number IS NOT NULL"),
    )
    op.create_table(
        "document_events",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("document_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("actor_id", sa.UUID(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            name=op.f("fk_document_events_tenant_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_document_events_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_document_events")),
    )
    op.create_index(
        "ix_document_events_tenant_id_document_id",
        "document_events",
        ["tenant_id", "document_id"],
        unique=False,
    )
    op.create_index(
        "uq_document_events_tenant_id_document_id_key",
        "document_events",
        ["tenant_id", "document_id", "key"],
        unique=True,
        postgresql_where=sa.text("key IS NOT NULL"),
    )
    op.create_table(
        "document_lines",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("document_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("discount_kind", sa.String(length=10), nullable=False),
        sa.Column("discount_value", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("vat", sa.String(length=12), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("net_cents", sa.BigInteger(), nullable=False),
        sa.Column("vat_cents", sa.BigInteger(), nullable=False),
        sa.Column("gross_cents", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            name=op.f("fk_document_lines_tenant_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_document_lines_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "document_id", "position", name=op.f("pk_document_lines")
        ),
    )
    op.create_table(
        "payments",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("document_id", sa.UUID(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("recorded_by", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            name=op.f("fk_payments_tenant_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_payments_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payments")),
    )
    op.create_index(
        "ix_payments_tenant_id_document_id", "payments", ["tenant_id", "document_id"], unique=False
    )
    op.create_index(
        "ix_payments_tenant_id_paid_on", "payments", ["tenant_id", "paid_on"], unique=False
    )
    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TABLES:
        disable_tenant_rls(table)
    op.drop_index("ix_payments_tenant_id_paid_on", table_name="payments")
    op.drop_index("ix_payments_tenant_id_document_id", table_name="payments")
    op.drop_table("payments")
    op.drop_table("document_lines")
    op.drop_index(
        "uq_document_events_tenant_id_document_id_key",
        table_name="document_events",
        postgresql_where=sa.text("key IS NOT NULL"),
    )
    op.drop_index("ix_document_events_tenant_id_document_id", table_name="document_events")
    op.drop_table("document_events")
    op.drop_index(
        "uq_documents_tenant_id_kind_number",
        table_name="documents",
        postgresql_where=sa.text("number IS NOT NULL"),
    )
    op.drop_index("ix_documents_tenant_id_source_id", table_name="documents")
    op.drop_index("ix_documents_tenant_id_kind_issue_date", table_name="documents")
    op.drop_index("ix_documents_tenant_id_contact_id", table_name="documents")
    op.drop_table("documents")
