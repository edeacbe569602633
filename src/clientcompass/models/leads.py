"""Leads: what a customer wants and where it stands (migration 0019 says why each is shaped
so). Money is integer cents, as everywhere (documents/money.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped, utcnow


class LeadStage(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    QUOTED = "quoted"
    WON = "won"
    LOST = "lost"


class LeadSource(StrEnum):
    FLOW = "flow"
    AD = "ad"
    MANUAL = "manual"
    IMPORT = "import"


class Lead(TenantOwned, Timestamped, Base):
    __tablename__ = "leads"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "conversation_id"], ["conversations.tenant_id", "conversations.id"]
        ),
        CheckConstraint("source IN ('flow', 'ad', 'manual', 'import')", name="source"),
        CheckConstraint("stage IN ('new', 'contacted', 'quoted', 'won', 'lost')", name="stage"),
        Index("ix_leads_tenant_id_stage_created_at", "tenant_id", "stage", "created_at"),
        Index("ix_leads_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_leads_tenant_id_contact_id", "tenant_id", "contact_id"),
        Index("ix_leads_tenant_id_conversation_id", "tenant_id", "conversation_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    source: Mapped[str] = mapped_column(String(10))
    stage: Mapped[str] = mapped_column(String(10), default=LeadStage.NEW.value)
    service: Mapped[str] = mapped_column(String(200), default="", server_default="")
    suburb: Mapped[str] = mapped_column(String(200), default="", server_default="")
    urgency: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # Message media ids (the customer's photos), in the order they came.
    photos: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    # A flow's answers by question key.
    answers: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    estimated_value_cents: Mapped[int | None] = mapped_column(BigInteger)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    lost_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The click-to-WhatsApp ad's fields (ReferralCtwaClid, ReferralSourceUrl …), when one sent them.
    referral: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    stage_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    first_reply_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LeadStageChange(TenantOwned, Base):
    __tablename__ = "lead_stage_changes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "lead_id"], ["leads.tenant_id", "leads.id"], ondelete="CASCADE"
        ),
        Index("ix_lead_stage_changes_tenant_id_lead_id_at", "tenant_id", "lead_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    lead_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    from_stage: Mapped[str | None] = mapped_column(String(10))
    to_stage: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
