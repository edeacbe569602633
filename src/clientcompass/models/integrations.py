"""Outgoing webhooks: a business's subscriptions (where to POST which events) and the
delivery log (one row per event per subscription, with its latest attempt). Migration 0020
says why each is shaped so."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped, utcnow


class WebhookSubscription(TenantOwned, Timestamped, Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    # "active", "paused" (by a person) or "disabled" (the receiver answered 410 Gone).
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    disabled_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The `whsec_…` signing secret, sealed with the keyring (context names the row).
    secret_sealed: Mapped[str] = mapped_column(Text)
    # After a rotation the old secret signs too (a second `v1,…`) until this time, so a
    # receiver can switch over without dropping a delivery.
    previous_secret_sealed: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )


class WebhookDelivery(TenantOwned, Timestamped, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "subscription_id"],
            ["webhook_subscriptions.tenant_id", "webhook_subscriptions.id"],
            ondelete="CASCADE",
        ),
        # One delivery per event per subscription: the event job running again adds none.
        UniqueConstraint("tenant_id", "subscription_id", "event_id"),
        Index(
            "ix_webhook_deliveries_tenant_id_subscription_id_created_at",
            "tenant_id",
            "subscription_id",
            "created_at",
        ),
        Index("ix_webhook_deliveries_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_id: Mapped[str] = mapped_column(String(64))
    # `webhook-id`: the same on every attempt, so a receiver can drop a repeat.
    message_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    # The exact JSON body that is signed and sent, byte for byte on every attempt.
    payload: Mapped[str] = mapped_column(Text)
    # "pending", "retrying", "delivered", "failed" (gave up, or 410), "skipped" (paused).
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
