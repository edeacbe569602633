"""notifications: push subscriptions, per-person preferences, sent-notification receipts,
and an idempotency key on outbound messages

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 16:40:00

- `push_subscriptions`: one row per device a person turned push on for (the browser's
  endpoint, its keys, a device label). The keys (`p256dh`, `auth`) are what a payload is
  encrypted to, so they are stored encrypted with the keyring; the endpoint is kept plain
  (unique per business) so a re-subscription updates its row. Deleted with the user.
- `notification_preferences`: one row per person once they change anything (until then the
  defaults in notifications/preferences.py apply): per kind and channel, quiet hours, and
  whether the lock screen may show message text. Deleted with the user.
- `notification_receipts`: what was sent to whom under a key ("new-lead:<conversation>",
  "digest:<date>"), so a job that runs twice sends once. Kept 90 days (the policy's logs).
- `messages.client_key`: the composer's idempotency key, so a reply typed offline and sent
  on reconnect (perhaps twice, by two tabs or a retry) is stored once.
- `cc_digest_tenants()`: the daily digest's cross-tenant scan (each open business, its time
  zone and the date of its last digest), read as the owner through two SELECT-only policies;
  each business is then handled in its own tenant's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from clientcompass.migrations.rls import enable_tenant_rls

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


DIGEST_TENANTS = """
CREATE FUNCTION cc_digest_tenants()
RETURNS TABLE (tenant_id uuid, timezone text, last_digest text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT t.id, COALESCE(p.timezone, ''), COALESCE(s.value->>'date', '')
    FROM tenants t
    LEFT JOIN business_profiles p ON p.tenant_id = t.id
    LEFT JOIN tenant_settings s ON s.tenant_id = t.id AND s.key = 'notifications.digest'
    WHERE t.closed_at IS NULL
$$
"""


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("keys_encrypted", sa.Text(), nullable=False),
        sa.Column("device_label", sa.String(length=120), nullable=False),
        sa.Column("user_agent", sa.String(length=400), nullable=False, server_default=""),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_push_subscriptions"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_push_subscriptions_tenant_id_users",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "tenant_id", "endpoint", name="uq_push_subscriptions_tenant_id_endpoint"
        ),
    )
    op.create_index(
        "ix_push_subscriptions_tenant_id_user_id", "push_subscriptions", ["tenant_id", "user_id"]
    )
    enable_tenant_rls("push_subscriptions")

    op.create_table(
        "notification_preferences",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column(
            "channels",
            sa.dialects.postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("hide_content", sa.Boolean(), nullable=False, server_default=sa.false()),
        *_timestamps(),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_notification_preferences"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_notification_preferences_tenant_id_users",
            ondelete="CASCADE",
        ),
    )
    enable_tenant_rls("notification_preferences")

    op.create_table(
        "notification_receipts",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", "key", name="pk_notification_receipts"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name="fk_notification_receipts_tenant_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_notification_receipts_created_at", "notification_receipts", ["created_at"])
    enable_tenant_rls("notification_receipts")

    # tenants already has owner_reminders_scan (USING true), from migration 0011.
    op.execute(
        "CREATE POLICY owner_digest_scan ON business_profiles FOR SELECT TO CURRENT_USER "
        "USING (true)"
    )
    op.execute(
        "CREATE POLICY owner_digest_scan ON tenant_settings FOR SELECT TO CURRENT_USER "
        "USING (key = 'notifications.digest')"
    )
    op.execute(DIGEST_TENANTS)
    op.execute("REVOKE ALL ON FUNCTION cc_digest_tenants() FROM PUBLIC")

    op.add_column("messages", sa.Column("client_key", sa.UUID(), nullable=True))
    op.create_index(
        "uq_messages_tenant_id_client_key",
        "messages",
        ["tenant_id", "client_key"],
        unique=True,
        postgresql_where=sa.text("client_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cc_digest_tenants()")
    op.execute("DROP POLICY IF EXISTS owner_digest_scan ON tenant_settings")
    op.execute("DROP POLICY IF EXISTS owner_digest_scan ON business_profiles")
    op.drop_index("uq_messages_tenant_id_client_key", table_name="messages")
    op.drop_column("messages", "client_key")
    op.drop_table("notification_receipts")
    op.drop_table("notification_preferences")
    op.drop_table("push_subscriptions")
