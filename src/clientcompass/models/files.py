"""Files in PostgreSQL: issued PDFs and WhatsApp media, as rows behind the tenant wall.

A file is one `files` row (type, size, SHA-256, retention) and its bytes in `file_chunks`,
fixed-size bytea rows read one at a time, so a 16 MB download never sits in memory whole
and a Range request reads only the chunks it needs (migration 0015 says why this shape).
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Date,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped


class Retention(StrEnum):
    """LEGAL_HOLD: an issued document's PDF, kept until `keep_until` (5 years from issue; the
    database refuses an earlier delete). TEMPORARY: WhatsApp media, purged after
    MEDIA_RETENTION_DAYS."""

    LEGAL_HOLD = "legal_hold"
    TEMPORARY = "temporary"


class StoredFile(TenantOwned, Timestamped, Base):
    __tablename__ = "files"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "document_id"], ["documents.tenant_id", "documents.id"]),
        Index(
            "uq_files_tenant_id_document_id",
            "tenant_id",
            "document_id",
            unique=True,
            postgresql_where=text("document_id IS NOT NULL"),
        ),
        Index(
            "ix_files_tenant_id_created_at_temporary",
            "tenant_id",
            "created_at",
            postgresql_where=text("retention = 'temporary'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    retention: Mapped[Retention] = mapped_column(
        Enum(Retention, name="file_retention", values_callable=lambda e: [m.value for m in e])
    )
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    chunk_size: Mapped[int] = mapped_column(Integer)
    keep_until: Mapped[date | None] = mapped_column(Date)
    # The issued document whose PDF this is (legal hold); empty for media.
    document_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class FileChunk(TenantOwned, Base):
    __tablename__ = "file_chunks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "file_id"], ["files.tenant_id", "files.id"], ondelete="CASCADE"
        ),
    )

    file_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
