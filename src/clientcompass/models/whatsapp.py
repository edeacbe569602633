"""WhatsApp: channels (a connected sender), contacts, conversations, messages and their media."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Computed,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped


def _enum(kind: type[StrEnum], name: str) -> Enum:
    return Enum(kind, name=name, values_callable=lambda e: [m.value for m in e])


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageStatus(StrEnum):
    """Twilio's message statuses plus `sending` (handed to the API, answer pending)."""

    RECEIVED = "received"
    QUEUED = "queued"
    SENDING = "sending"
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"

    @property
    def rank(self) -> int:
        """Progress order; a status callback never moves a message to a lower rank."""
        return STATUS_RANK[self]

    @property
    def is_terminal_error(self) -> bool:
        return self in (MessageStatus.FAILED, MessageStatus.UNDELIVERED)


STATUS_RANK = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 2,
    MessageStatus.ACCEPTED: 3,
    MessageStatus.SENT: 4,
    MessageStatus.DELIVERED: 5,
    MessageStatus.READ: 6,
    MessageStatus.FAILED: 10,
    MessageStatus.UNDELIVERED: 10,
}


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    SNOOZED = "snoozed"


class MediaState(StrEnum):
    """PENDING until fetched; FAILED when it could not be downloaded (refused, or given up
    by the sweep); EXPIRED once purged after MEDIA_RETENTION_DAYS."""

    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"
    EXPIRED = "expired"


class Channel(TenantOwned, Timestamped, Base):
    """A connected WhatsApp sender. The webhook key names the tenant, so routing a webhook
    never needs to look across tenants."""

    __tablename__ = "channels"
    __table_args__ = (
        UniqueConstraint("tenant_id", "webhook_key"),
        UniqueConstraint("tenant_id", "whatsapp_from"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), default="twilio")
    name: Mapped[str] = mapped_column(String(100))
    account_sid: Mapped[str] = mapped_column(String(34))
    auth_token_sealed: Mapped[str] = mapped_column(Text)
    whatsapp_from: Mapped[str] = mapped_column(String(40))
    messaging_service_sid: Mapped[str] = mapped_column(String(34), default="")
    webhook_key: Mapped[str] = mapped_column(String(120))
    is_sandbox: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    sends_per_second: Mapped[float] = mapped_column(default=80.0)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The tenant rides inside the search vector as its own lexeme (weight D) so one GIN index
# answers "this tenant's contacts matching these words" without the btree_gin extension, which
# the embedded PostgreSQL lacks. User words are matched at weight A only, so a search can
# never match the tenant lexeme itself.
CONTACT_SEARCH_EXPRESSION = (
    "setweight(to_tsvector('simple'::regconfig, 't' || replace(tenant_id::text, '-', '')), 'D')"
    " || setweight(to_tsvector('simple'::regconfig, name || ' ' || profile_name || ' ' || email"
    " || ' ' || translate(email, '@.', '  ') || ' ' || ltrim(phone_e164, '+')"
    " || CASE WHEN phone_e164 LIKE '+27%' THEN ' 0' || substr(phone_e164, 4) ELSE '' END), 'A')"
    " || setweight(array_to_tsvector(tags), 'A')"
)
CONTACT_SORT_EXPRESSION = "lower(COALESCE(NULLIF(name, ''), NULLIF(profile_name, ''), phone_e164))"


class Contact(TenantOwned, Timestamped, Base):
    """A customer. `phone_e164` is unique per tenant: WhatsApp finds a contact by it."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "phone_e164"),
        Index("ix_contacts_tenant_id_sort_name_id", "tenant_id", "sort_name", "id"),
        Index("ix_contacts_search", "search", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    phone_e164: Mapped[str] = mapped_column(String(20))
    wa_id: Mapped[str] = mapped_column(String(20), default="")
    profile_name: Mapped[str] = mapped_column(String(200), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address: Mapped[str] = mapped_column(Text, default="", server_default="")
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(Text), default=list, server_default=text("'{}'::text[]")
    )
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Marketing consent (POPIA s69; contacts/consent.py): NULL is opted in, the default. The
    # note says how they opted out ("replied STOP"); the history is MarketingConsentEvent.
    marketing_opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    marketing_opt_out_note: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # Maintained by PostgreSQL: the list's keyset order and the search index's document.
    sort_name: Mapped[str] = mapped_column(Text, Computed(CONTACT_SORT_EXPRESSION, persisted=True))
    search: Mapped[str] = mapped_column(
        TSVECTOR, Computed(CONTACT_SEARCH_EXPRESSION, persisted=True), deferred=True
    )


class Conversation(TenantOwned, Timestamped, Base):
    """One contact on one channel. `last_inbound_at` drives the 24-hour window."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel_id", "contact_id"),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        ForeignKeyConstraint(["tenant_id", "channel_id"], ["channels.tenant_id", "channels.id"]),
        # The inbox lists newest first with a keyset on (last_message_at, id).
        Index(
            "ix_conversations_tenant_id_last_message_at_id", "tenant_id", "last_message_at", "id"
        ),
        Index(
            "ix_conversations_tenant_id_unread",
            "tenant_id",
            postgresql_where=text("unread_count > 0"),
        ),
        Index(
            "ix_conversations_tenant_id_snoozed_until",
            "tenant_id",
            "snoozed_until",
            postgresql_where=text("status = 'snoozed'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[ConversationStatus] = mapped_column(
        _enum(ConversationStatus, "conversation_status"), default=ConversationStatus.OPEN
    )
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_message_preview: Mapped[str] = mapped_column(String(200), default="")
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


SEARCH_VECTOR = (
    "array_to_tsvector(ARRAY['t' || replace(tenant_id::text, '-', '')]) "
    "|| to_tsvector('simple'::regconfig, coalesce(body, ''))"
)


class Message(TenantOwned, Timestamped, Base):
    """One WhatsApp message. An outbound row is the record of intent (the outbox): it is
    committed as `queued` before the API answers, and a worker sends it."""

    __tablename__ = "messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "conversation_id"], ["conversations.tenant_id", "conversations.id"]
        ),
        Index(
            "ix_messages_tenant_id_conversation_id_created_at",
            "tenant_id",
            "conversation_id",
            "created_at",
        ),
        Index(
            "uq_messages_tenant_id_provider_sid",
            "tenant_id",
            "provider_sid",
            unique=True,
            postgresql_where=text("provider_sid IS NOT NULL"),
        ),
        Index(
            "ix_messages_tenant_id_outbox",
            "tenant_id",
            "status",
            "next_attempt_at",
            postgresql_where=text("status IN ('queued', 'sending')"),
        ),
        Index("ix_messages_search", "search", postgresql_using="gin"),
        Index(
            "ix_messages_tenant_id_unhandled",
            "tenant_id",
            "created_at",
            postgresql_where=text("direction = 'inbound' AND handled_at IS NULL"),
        ),
        Index(
            "uq_messages_tenant_id_client_key",
            "tenant_id",
            "client_key",
            unique=True,
            postgresql_where=text("client_key IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    conversation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    channel_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    direction: Mapped[Direction] = mapped_column(_enum(Direction, "message_direction"))
    provider_sid: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    content_sid: Mapped[str] = mapped_column(String(40), default="")
    content_variables: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[MessageStatus] = mapped_column(_enum(MessageStatus, "message_status"))
    status_times: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    send_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set, for an inbound message, by the transaction that did its follow-up work
    # (conversations/inbound.py): the work is done once however often its job runs.
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The composer's idempotency key: a reply sent again (typed offline, sent on reconnect by
    # a retry or a second tab) finds the message the first send stored.
    client_key: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Full-text search over bodies. The tenant is a lexeme of its own, so one GIN lookup
    # intersects "this tenant" with the words (no btree_gin needed). Queried through
    # cc_inbox_search() (migration 0008): under RLS the index could not be used.
    search: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(SEARCH_VECTOR, persisted=True),
        deferred=True,
    )


class MessageMedia(TenantOwned, Timestamped, Base):
    """A file attached to a message; its bytes are a temporary `files` row once fetched."""

    __tablename__ = "message_media"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "message_id"], ["messages.tenant_id", "messages.id"]),
        ForeignKeyConstraint(["tenant_id", "file_id"], ["files.tenant_id", "files.id"]),
        Index("ix_message_media_tenant_id_message_id", "tenant_id", "message_id"),
        Index("ix_message_media_tenant_id_file_id", "tenant_id", "file_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # Empty for a file uploaded to send, until the message that carries it is queued.
    message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    position: Mapped[int] = mapped_column(Integer, default=0)
    content_type: Mapped[str] = mapped_column(String(120), default="")
    size: Mapped[int | None] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255), default="")
    source_url: Mapped[str] = mapped_column(Text, default="")
    # Before migration 0015: the file's path in the old media folder. Blank once moved into
    # `files`; still set only on a row whose file the migration found corrupted.
    storage_key: Mapped[str] = mapped_column(String(255), default="")
    file_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    state: Mapped[MediaState] = mapped_column(
        _enum(MediaState, "media_state"), default=MediaState.PENDING
    )
    error: Mapped[str] = mapped_column(Text, default="")
    # Download attempts of an inbound file: the pending sweep gives up after a few.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class TemplateStatus(StrEnum):
    DRAFT = "draft"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    PAUSED = "paused"
    DISABLED = "disabled"


class TemplateCategory(StrEnum):
    UTILITY = "UTILITY"
    MARKETING = "MARKETING"
    AUTHENTICATION = "AUTHENTICATION"


class MessageTemplate(TenantOwned, Timestamped, Base):
    """A WhatsApp template: created in Twilio's Content API, submitted for approval, synced."""

    __tablename__ = "message_templates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel_id", "name"),
        ForeignKeyConstraint(["tenant_id", "channel_id"], ["channels.tenant_id", "channels.id"]),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    channel_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(10), default="en")
    category: Mapped[TemplateCategory] = mapped_column(_enum(TemplateCategory, "template_category"))
    kind: Mapped[str] = mapped_column(String(30))
    body: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    media_url: Mapped[str] = mapped_column(Text, default="")
    content_sid: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[TemplateStatus] = mapped_column(
        _enum(TemplateStatus, "template_status"), default=TemplateStatus.DRAFT
    )
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
