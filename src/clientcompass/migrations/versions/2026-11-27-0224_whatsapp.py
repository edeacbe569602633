"""whatsapp: channels, contacts, conversations, messages and their media, all tenant-walled

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 02:24:42.582322
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from clientcompass.migrations.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ("channels", "contacts", "conversations", "messages", "message_media")
OUTBOX_FUNCTION = """
CREATE FUNCTION cc_outbox_stuck(p_queued_before timestamptz, p_sending_before timestamptz, p_limit int)
RETURNS TABLE (tenant_id uuid, message_id uuid, status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT m.tenant_id, m.id, m.status::text FROM messages m
    WHERE m.direction = 'outbound'
      AND ((m.status = 'queued' AND m.next_attempt_at < p_queued_before)
        OR (m.status = 'sending' AND m.send_started_at < p_sending_before))
    ORDER BY m.created_at
    LIMIT p_limit
$$
"""

ENUMS = ("conversation_status", "message_direction", "message_status", "media_state")


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("account_sid", sa.String(length=34), nullable=False),
        sa.Column("auth_token_sealed", sa.Text(), nullable=False),
        sa.Column("whatsapp_from", sa.String(length=40), nullable=False),
        sa.Column("messaging_service_sid", sa.String(length=34), nullable=False),
        sa.Column("webhook_key", sa.String(length=120), nullable=False),
        sa.Column("is_sandbox", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("sends_per_second", sa.Double(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_channels_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_channels")),
        sa.UniqueConstraint(
            "tenant_id", "webhook_key", name=op.f("uq_channels_tenant_id_webhook_key")
        ),
        sa.UniqueConstraint(
            "tenant_id", "whatsapp_from", name=op.f("uq_channels_tenant_id_whatsapp_from")
        ),
    )
    op.create_table(
        "contacts",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("phone_e164", sa.String(length=20), nullable=False),
        sa.Column("wa_id", sa.String(length=20), nullable=False),
        sa.Column("profile_name", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_contacts_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_contacts")),
        sa.UniqueConstraint(
            "tenant_id", "phone_e164", name=op.f("uq_contacts_tenant_id_phone_e164")
        ),
    )
    op.create_table(
        "conversations",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("channel_id", sa.UUID(), nullable=False),
        sa.Column("contact_id", sa.UUID(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "pending", "resolved", "snoozed", name="conversation_status"),
            nullable=False,
        ),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_message_preview", sa.String(length=200), nullable=False),
        sa.Column("unread_count", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "channel_id"],
            ["channels.tenant_id", "channels.id"],
            name=op.f("fk_conversations_tenant_id_channels"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_conversations_tenant_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_conversations_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_conversations")),
        sa.UniqueConstraint(
            "tenant_id",
            "channel_id",
            "contact_id",
            name=op.f("uq_conversations_tenant_id_channel_id_contact_id"),
        ),
    )
    op.create_index(
        "ix_conversations_tenant_id_last_message_at",
        "conversations",
        ["tenant_id", "last_message_at"],
        unique=False,
    )
    op.create_table(
        "messages",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("channel_id", sa.UUID(), nullable=False),
        sa.Column(
            "direction", sa.Enum("inbound", "outbound", name="message_direction"), nullable=False
        ),
        sa.Column("provider_sid", sa.String(length=40), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("media", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("content_sid", sa.String(length=40), nullable=False),
        sa.Column("content_variables", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "received",
                "queued",
                "sending",
                "accepted",
                "sent",
                "delivered",
                "read",
                "failed",
                "undelivered",
                name="message_status",
            ),
            nullable=False,
        ),
        sa.Column("status_times", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("author_id", sa.UUID(), nullable=True),
        sa.Column("send_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "conversation_id"],
            ["conversations.tenant_id", "conversations.id"],
            name=op.f("fk_messages_tenant_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_messages_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_messages")),
    )
    op.create_index(
        "ix_messages_tenant_id_conversation_id_created_at",
        "messages",
        ["tenant_id", "conversation_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_messages_tenant_id_outbox",
        "messages",
        ["tenant_id", "status", "next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('queued', 'sending')"),
    )
    op.create_index(
        "uq_messages_tenant_id_provider_sid",
        "messages",
        ["tenant_id", "provider_sid"],
        unique=True,
        postgresql_where=sa.text("provider_sid IS NOT NULL"),
    )
    op.create_table(
        "message_media",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("message_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column(
            "state", sa.Enum("pending", "stored", "failed", name="media_state"), nullable=False
        ),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "message_id"],
            ["messages.tenant_id", "messages.id"],
            name=op.f("fk_message_media_tenant_id_messages"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_message_media_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_message_media")),
    )
    op.create_index(
        "ix_message_media_tenant_id_message_id",
        "message_media",
        ["tenant_id", "message_id"],
        unique=False,
    )

    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    # The outbox sweeper crosses tenants to find sends a crash left behind. It sees ids and
    # statuses only, through this function, which runs as the owner: the owner alone may read.
    op.execute(
        "CREATE POLICY owner_outbox_sweep ON messages FOR SELECT TO CURRENT_USER USING (true)"
    )
    op.execute(OUTBOX_FUNCTION)
    op.execute("REVOKE ALL ON FUNCTION cc_outbox_stuck(timestamptz, timestamptz, int) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cc_outbox_stuck(timestamptz, timestamptz, int)")
    op.execute("DROP POLICY IF EXISTS owner_outbox_sweep ON messages")
    for table in TENANT_TABLES:
        disable_tenant_rls(table)
    op.drop_index("ix_message_media_tenant_id_message_id", table_name="message_media")
    op.drop_table("message_media")
    op.drop_index(
        "uq_messages_tenant_id_provider_sid",
        table_name="messages",
        postgresql_where=sa.text("provider_sid IS NOT NULL"),
    )
    op.drop_index(
        "ix_messages_tenant_id_outbox",
        table_name="messages",
        postgresql_where=sa.text("status IN ('queued', 'sending')"),
    )
    op.drop_index("ix_messages_tenant_id_conversation_id_created_at", table_name="messages")
    op.drop_table("messages")
    op.drop_index("ix_conversations_tenant_id_last_message_at", table_name="conversations")
    op.drop_table("conversations")
    op.drop_table("contacts")
    op.drop_table("channels")
    for enum in ENUMS:
        op.execute(f"DROP TYPE IF EXISTS {enum}")
