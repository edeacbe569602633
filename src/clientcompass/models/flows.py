"""Flows: the business's editable draft, and the immutable versions it published
(migration 0021 says why each is shaped so)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKeyConstraint, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped, utcnow


class Flow(TenantOwned, Timestamped, Base):
    """A flow's draft (any JSON the builder saved, checked on save) and which version is live."""

    __tablename__ = "flows"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # The draft's trigger kind, so the runtime finds candidate flows without reading JSON.
    trigger_kind: Mapped[str] = mapped_column(String(40))
    draft: Mapped[dict[str, Any]] = mapped_column(JSONB)
    live_version: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )


class FlowVersion(TenantOwned, Base):
    """A published definition; the database refuses UPDATE and DELETE of it."""

    __tablename__ = "flow_versions"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "flow_id"], ["flows.tenant_id", "flows.id"]),
    )

    flow_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    trigger_kind: Mapped[str] = mapped_column(String(40))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    published_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    published_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
