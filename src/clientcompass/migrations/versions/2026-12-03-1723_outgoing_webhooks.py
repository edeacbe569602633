"""outgoing webhooks: subscriptions per business and a delivery log

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 17:20:00

- `webhook_subscriptions`: where a business wants `lead.created`, `lead.stage_changed`,
  `quote.accepted` and `invoice.paid` POSTed (Zapier, n8n, Make). The Standard Webhooks
  signing secret (`whsec_…`) is sealed with the keyring; after a rotation the previous one
  is kept, sealed, until `previous_secret_until`, and signs too. `status` is active, paused
  (by a person) or disabled (the receiver answered 410 Gone).
- `webhook_deliveries`: one row per event per subscription (unique on the event's id, so the
  event job running twice delivers once), holding the exact body that is signed and sent on
  every attempt, its `webhook-id`, and the latest attempt's outcome for the settings page's
  log. Deleted with its subscription.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from clientcompass.migrations.rls import enable_tenant_rls

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tz(name: str, **kwargs: object) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), **kwargs)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("status", sa.String(length=20), nullable=False, server_default="active"),
        sa.Column("disabled_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("previous_secret_sealed", sa.Text(), nullable=True),
        _tz("previous_secret_until", nullable=True),
        sa.Column("created_by", sa.UUID(), nullable=True),
        _tz("created_at", server_default=sa.func.now(), nullable=False),
        _tz("updated_at", server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_subscriptions"),
    )
    enable_tenant_rls("webhook_subscriptions")

    op.create_table(
        "webhook_deliveries",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("subscription_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        _tz("last_attempt_at", nullable=True),
        _tz("next_attempt_at", nullable=True),
        _tz("delivered_at", nullable=True),
        _tz("created_at", server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "subscription_id"],
            ["webhook_subscriptions.tenant_id", "webhook_subscriptions.id"],
            name="fk_webhook_deliveries_tenant_id_webhook_subscriptions",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "subscription_id",
            "event_id",
            name="uq_webhook_deliveries_tenant_id_subscription_id_event_id",
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_tenant_id_subscription_id_created_at",
        "webhook_deliveries",
        ["tenant_id", "subscription_id", "created_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_tenant_id_created_at",
        "webhook_deliveries",
        ["tenant_id", "created_at"],
    )
    enable_tenant_rls("webhook_deliveries")


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
