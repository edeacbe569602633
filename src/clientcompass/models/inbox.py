"""The shared inbox's own records: labels on conversations, the thread's notes and system
events, and the team's canned responses. Messages stay WhatsApp's (models/whatsapp.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped


class EventKind(StrEnum):
    """What a thread shows between messages: a private note, or who changed what."""

    NOTE = "note"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    STATUS = "status"
    REOPENED = "reopened"
    LABELED = "labeled"
    UNLABELED = "unlabeled"


class ConversationLabel(TenantOwned, Base):
    """A label on a conversation. Labels are free words the team types; the list of the
    tenant's labels is the distinct set in use, so there is nothing to keep in sync."""

    __tablename__ = "conversation_labels"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "conversation_id"], ["conversations.tenant_id", "conversations.id"]
        ),
        Index("ix_conversation_labels_tenant_id_label", "tenant_id", "label", "conversation_id"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    label: Mapped[str] = mapped_column(String(40), primary_key=True)


class ConversationEvent(TenantOwned, Timestamped, Base):
    """A private note or a system event (assigned, resolved, reopened…) in a thread.
    Never sent to the customer: it is not a message."""

    __tablename__ = "conversation_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "conversation_id"], ["conversations.tenant_id", "conversations.id"]
        ),
        Index(
            "ix_conversation_events_tenant_id_conversation_id_created_at",
            "tenant_id",
            "conversation_id",
            "created_at",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class CannedResponse(TenantOwned, Timestamped, Base):
    """A saved reply the team inserts with `/shortcut` in the composer."""

    __tablename__ = "canned_responses"
    __table_args__ = (UniqueConstraint("tenant_id", "shortcut"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
