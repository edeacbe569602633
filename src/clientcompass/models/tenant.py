from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped


class Tenant(Timestamped, Base):
    """A business. Its row is visible only inside its own tenant context (policy on `id`)."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TenantSetting(TenantOwned, Base):
    """Per-tenant settings that later features add without a new column each (key → JSON)."""

    __tablename__ = "tenant_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB)


class BusinessProfile(TenantOwned, Base):
    """What documents and the app say about the business; one row per tenant."""

    __tablename__ = "business_profiles"

    trading_name: Mapped[str] = mapped_column(String(200))
    registered_name: Mapped[str] = mapped_column(String(200), default="")
    registration_number: Mapped[str] = mapped_column(String(50), default="")
    vat_number: Mapped[str] = mapped_column(String(10), default="")
    physical_address: Mapped[str] = mapped_column(Text, default="")
    postal_address: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    logo: Mapped[bytes | None] = mapped_column()
    logo_content_type: Mapped[str] = mapped_column(String(50), default="")
    default_vat_rate_bp: Mapped[int] = mapped_column(default=1500)
    default_quote_terms: Mapped[str] = mapped_column(Text, default="")
    default_invoice_terms: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Africa/Johannesburg")
    banking_details_sealed: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
