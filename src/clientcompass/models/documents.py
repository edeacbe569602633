"""Documents: quotes, invoices and credit notes, their lines, payments and history.

One table holds all three kinds: they share numbering, totals, PDFs, sending and the public
link, and a credit note or an invoice points back at the document it came from.
Amounts are integer cents as computed by `documents.money`; the stored figures are the
printed ones.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped


class DocumentCounter(TenantOwned, Base):
    """The last number given in one numbering scope, e.g. invoices with prefix `INV-2026-`.

    Incremented inside the finalising transaction, so a rollback gives the number back
    (gapless) and concurrent finalisations queue on the row (unique).
    """

    __tablename__ = "document_counters"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class DocumentStatus(StrEnum):
    """Stored statuses. `overdue` (invoices) and `expired` (quotes) are computed from dates."""

    DRAFT = "draft"
    FINALISED = "finalised"  # numbered, not sent yet
    SENT = "sent"
    VIEWED = "viewed"
    ACCEPTED = "accepted"  # quotes
    DECLINED = "declined"  # quotes
    INVOICED = "invoiced"  # quotes
    PARTIALLY_PAID = "partially_paid"  # invoices
    PAID = "paid"  # invoices
    VOIDED = "voided"  # invoices, by a full credit note
    ISSUED = "issued"  # credit notes


class Document(TenantOwned, Timestamped, Base):
    __tablename__ = "documents"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        ForeignKeyConstraint(["tenant_id", "source_id"], ["documents.tenant_id", "documents.id"]),
        ForeignKeyConstraint(["tenant_id", "lead_id"], ["leads.tenant_id", "leads.id"]),
        Index(
            "uq_documents_tenant_id_kind_number",
            "tenant_id",
            "kind",
            "number",
            unique=True,
            postgresql_where=text("number IS NOT NULL"),
        ),
        Index("ix_documents_tenant_id_kind_issue_date", "tenant_id", "kind", "issue_date"),
        Index("ix_documents_tenant_id_contact_id", "tenant_id", "contact_id"),
        Index("ix_documents_tenant_id_source_id", "tenant_id", "source_id"),
        Index("ix_documents_tenant_id_lead_id", "tenant_id", "lead_id"),
        Index(
            "ix_documents_tenant_id_legal_hold_until",
            "tenant_id",
            "legal_hold_until",
            postgresql_where=text("legal_hold_until IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.DRAFT.value)
    number: Mapped[str | None] = mapped_column(String(40))
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_vat_number: Mapped[str] = mapped_column(String(10), default="")
    billing_address: Mapped[str] = mapped_column(Text, default="")
    service_address: Mapped[str] = mapped_column(Text, default="")
    job_description: Mapped[str] = mapped_column(Text, default="")
    price_mode: Mapped[str] = mapped_column(String(10))
    rounding: Mapped[str] = mapped_column(String(12))
    vat_rate_bp: Mapped[int] = mapped_column(Integer)
    issue_date: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    terms: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    deposit_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    subtotal_excl_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    vat_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    credited_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # Where it came from: the quote an invoice was raised from, the invoice a credit note corrects.
    source_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The lead a quote was made from (its acceptance wins the lead).
    lead_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    invoice_part: Mapped[str] = mapped_column(String(10), default="")  # "", "deposit", "final"
    reason: Mapped[str] = mapped_column(Text, default="")  # credit notes
    pdf_key: Mapped[str] = mapped_column(String(255), default="")
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="")
    finalised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    viewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Legal hold (migration 0027): after the customer's erasure an issued tax invoice or
    # credit note keeps its SARS fields until this date (5 years from issue), then the
    # legal-hold retention rule anonymises it and sets `anonymised_at`.
    legal_hold_until: Mapped[date | None] = mapped_column(Date)
    anonymised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DocumentLine(TenantOwned, Base):
    """One line as entered (quantity, price, discount, VAT treatment) and as priced (cents)."""

    __tablename__ = "document_lines"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            ondelete="CASCADE",
        ),
    )

    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    unit: Mapped[str] = mapped_column(String(20), default="")
    unit_price: Mapped[Decimal] = mapped_column(Numeric(16, 4))
    discount_kind: Mapped[str] = mapped_column(String(10), default="percent")
    discount_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    vat: Mapped[str] = mapped_column(String(12))
    discount_cents: Mapped[int] = mapped_column(BigInteger)
    net_cents: Mapped[int] = mapped_column(BigInteger)
    vat_cents: Mapped[int] = mapped_column(BigInteger)
    gross_cents: Mapped[int] = mapped_column(BigInteger)


class PaymentMethod(StrEnum):
    EFT = "eft"
    CASH = "cash"
    CARD = "card"
    OTHER = "other"


class Payment(TenantOwned, Timestamped, Base):
    __tablename__ = "payments"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "document_id"], ["documents.tenant_id", "documents.id"]),
        Index("ix_payments_tenant_id_document_id", "tenant_id", "document_id"),
        Index("ix_payments_tenant_id_paid_on", "tenant_id", "paid_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    method: Mapped[str] = mapped_column(String(10))
    paid_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(String(100), default="")
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class DocumentEvent(TenantOwned, Base):
    """The document's history (finalised, sent, viewed, accepted, paid, reminded …).

    `key` makes one-off events unique: a reminder is keyed by its schedule slot, so the job
    that sends it can run twice and remind once.
    """

    __tablename__ = "document_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "document_id"],
            ["documents.tenant_id", "documents.id"],
            ondelete="CASCADE",
        ),
        Index("ix_document_events_tenant_id_document_id", "tenant_id", "document_id"),
        Index(
            "uq_document_events_tenant_id_document_id_key",
            "tenant_id",
            "document_id",
            "key",
            unique=True,
            postgresql_where=text("key IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    document_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
