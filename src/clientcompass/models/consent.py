"""Marketing consent (POPIA s69): each opt-out and opt-in, append-only, as the proof of when
and how a customer objected to direct marketing (migration 0018 says why it is shaped so).
The current state lives on the contact (`Contact.marketing_opted_out_at`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKeyConstraint, Index, String, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, utcnow


class MarketingConsentEvent(TenantOwned, Base):
    __tablename__ = "marketing_consent_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="CASCADE"
        ),
        Index(
            "ix_marketing_consent_events_tenant_id_contact_id_created_at",
            "tenant_id",
            "contact_id",
            "created_at",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    opted_in: Mapped[bool] = mapped_column(Boolean)
    # "keyword" (the customer wrote STOP, YEKA…) or "member" (recorded by hand, with a reason).
    via: Mapped[str] = mapped_column(String(20))
    keyword: Mapped[str] = mapped_column(String(40), default="", server_default="")
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    member_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    member_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
