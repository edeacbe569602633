"""Data exports (lifecycle/export.py): a ZIP of a whole business, of one customer, built by a
job into a file row (files in PostgreSQL), downloadable through a signed link for 24 hours.

The row is the record of intent and the progress the page polls: `stage`, `done` and
`total` say what the job is doing ("messages", "files 120/400"); `file_id` names the
finished ZIP, a temporary file deleted when the export expires (export_tasks.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped


class ExportKind(StrEnum):
    BUSINESS = "business"  # everything about the business
    CUSTOMER = "customer"  # everything about one contact (a data-subject access request)


class ExportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    EXPIRED = "expired"


class Export(TenantOwned, Timestamped, Base):
    __tablename__ = "exports"
    __table_args__ = (Index("ix_exports_tenant_id_created_at", "tenant_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    # The contact a customer export is about; empty for a business export.
    subject_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    subject_label: Mapped[str] = mapped_column(String(200), server_default=text("''"))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'queued'"))
    stage: Mapped[str] = mapped_column(String(40), server_default=text("''"))
    done: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    total: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    file_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    size: Mapped[int | None] = mapped_column(BigInteger)
    requested_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    error: Mapped[str] = mapped_column(Text, server_default=text("''"))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
