"""flow runs: a conversation's place in a published flow, and its step journal

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 17:02:00

- `flow_runs`: one row per run, pinned to the flow version it started on (a publish never
  changes a running conversation), or, for a trial on the sandbox phone, to a copy of the
  draft it was tried from (`trial_definition`; exactly one of the two is set). `status` is running / paused (an agent took over) /
  completed / handed_off / abandoned / stopped; `step_id` is the step it waits on (an answer,
  a timer or a webhook) and `wake_at` when the clock next matters (a wait's end, the nudge, the
  abandonment). The answers so far are in `answers`. At most one running or paused run per
  conversation: a partial unique index, so two triggers at once cannot both start one.
- `flow_run_steps`: the journal, one line per step done, numbered per run (the run's
  `steps_done` is the last number, so a line costs no lookup). A customer's
  message is consumed by a run at most once: a unique index on (run, inbound message), which
  makes a re-run of an inbound job (or a redelivered webhook that got past the dedupe) unable
  to advance a run twice even if the handled mark were lost.
- `cc_flow_due_tenants()`: the timer sweep's cross-tenant scan, tenant ids only (as
  `cc_reminder_tenants`); each business's due runs are then advanced in its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from clientcompass.migrations.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('running', 'paused')"
DUE_TENANTS = """
CREATE FUNCTION cc_flow_due_tenants(due timestamptz)
RETURNS TABLE (tenant_id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT DISTINCT r.tenant_id FROM flow_runs r
    WHERE r.status = 'running' AND r.wake_at IS NOT NULL AND r.wake_at <= due
$$
"""


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "flow_runs",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("flow_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("trial_definition", JSONB(), nullable=True),
        sa.Column("conversation_id", sa.UUID(), nullable=False),
        sa.Column("contact_id", sa.UUID(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("started_by", sa.UUID(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("step_id", sa.String(length=40), nullable=True),
        sa.Column("waiting", sa.String(length=10), nullable=False, server_default=""),
        sa.Column("tries", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("steps_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("answers", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("lead_id", sa.UUID(), nullable=True),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wake_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("nudged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_flow_runs"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "flow_id", "version"],
            ["flow_versions.tenant_id", "flow_versions.flow_id", "flow_versions.number"],
            name="fk_flow_runs_tenant_id_flow_versions",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "conversation_id"],
            ["conversations.tenant_id", "conversations.id"],
            name="fk_flow_runs_tenant_id_conversations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name="fk_flow_runs_tenant_id_contacts",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "status IN ('running', 'paused', 'completed', 'handed_off', 'abandoned', 'stopped')",
            name="status",
        ),
        sa.CheckConstraint("waiting IN ('', 'answer', 'timer', 'webhook')", name="waiting"),
        sa.CheckConstraint("(version IS NULL) <> (trial_definition IS NULL)", name="pinned"),
    )
    op.create_index(
        "ux_flow_runs_live_conversation",
        "flow_runs",
        ["tenant_id", "conversation_id"],
        unique=True,
        postgresql_where=sa.text(LIVE),
    )
    op.create_index(
        "ix_flow_runs_tenant_id_flow_id_started_at",
        "flow_runs",
        ["tenant_id", "flow_id", "started_at"],
    )
    op.create_index("ix_flow_runs_tenant_id_contact_id", "flow_runs", ["tenant_id", "contact_id"])
    op.create_index(
        "ix_flow_runs_wake_at",
        "flow_runs",
        ["wake_at"],
        postgresql_where=sa.text("status = 'running' AND wake_at IS NOT NULL"),
    )
    enable_tenant_rls("flow_runs")
    op.create_table(
        "flow_run_steps",
        sa.Column("tenant_id", sa.UUID(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("inbound_message_id", sa.UUID(), nullable=True),
        sa.Column("message_id", sa.UUID(), nullable=True),
        sa.Column("detail", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_flow_run_steps"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["flow_runs.tenant_id", "flow_runs.id"],
            name="fk_flow_run_steps_tenant_id_flow_runs",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("tenant_id", "run_id", "seq", name="uq_flow_run_steps_run_seq"),
    )
    op.create_index(
        "ux_flow_run_steps_answer",
        "flow_run_steps",
        ["tenant_id", "run_id", "inbound_message_id"],
        unique=True,
        postgresql_where=sa.text("inbound_message_id IS NOT NULL"),
    )
    enable_tenant_rls("flow_run_steps")
    # FORCE RLS binds the owner too: this policy lets the function (run as the owner) read
    # just the due runs, and it returns their tenant ids only.
    op.execute(
        "CREATE POLICY owner_flow_due_scan ON flow_runs FOR SELECT TO CURRENT_USER "
        "USING (status = 'running' AND wake_at IS NOT NULL)"
    )
    op.execute(DUE_TENANTS)
    op.execute("REVOKE ALL ON FUNCTION cc_flow_due_tenants(timestamptz) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS cc_flow_due_tenants(timestamptz)")
    op.execute("DROP POLICY IF EXISTS owner_flow_due_scan ON flow_runs")
    disable_tenant_rls("flow_run_steps")
    op.drop_table("flow_run_steps")
    disable_tenant_rls("flow_runs")
    op.drop_table("flow_runs")
