"""Flows: the business's editable draft, and the immutable versions it published
(migration 0021 says why each is shaped so)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
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


class RunStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # an agent took over; they resume or stop it from the thread
    COMPLETED = "completed"
    HANDED_OFF = "handed_off"
    ABANDONED = "abandoned"  # the customer went silent past the nudge
    STOPPED = "stopped"  # an agent stopped it


LIVE_STATUSES = (RunStatus.RUNNING.value, RunStatus.PAUSED.value)


class Waiting(StrEnum):
    NOTHING = ""
    ANSWER = "answer"
    TIMER = "timer"
    WEBHOOK = "webhook"


class FlowRun(TenantOwned, Base):
    """A conversation's run through one pinned version (migration 0025)."""

    __tablename__ = "flow_runs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "flow_id", "version"],
            ["flow_versions.tenant_id", "flow_versions.flow_id", "flow_versions.number"],
        ),
        ForeignKeyConstraint(
            ["tenant_id", "conversation_id"],
            ["conversations.tenant_id", "conversations.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="CASCADE"
        ),
        Index(
            "ux_flow_runs_live_conversation",
            "tenant_id",
            "conversation_id",
            unique=True,
            postgresql_where=text("status IN ('running', 'paused')"),
        ),
        Index("ix_flow_runs_tenant_id_flow_id_started_at", "tenant_id", "flow_id", "started_at"),
        Index("ix_flow_runs_tenant_id_contact_id", "tenant_id", "contact_id"),
        CheckConstraint("(version IS NULL) <> (trial_definition IS NULL)", name="pinned"),
        Index(
            "ix_flow_runs_wake_at",
            "wake_at",
            postgresql_where=text("status = 'running' AND wake_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    flow_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # The published version it runs; None for a sandbox trial, which runs `trial_definition`.
    version: Mapped[int | None] = mapped_column(Integer)
    trial_definition: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    conversation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    contact_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    trigger: Mapped[str] = mapped_column(String(20))
    started_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(12), default=RunStatus.RUNNING.value)
    step_id: Mapped[str | None] = mapped_column(String(40))
    waiting: Mapped[str] = mapped_column(String(10), default="", server_default="")
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The journal's last line number (flow_run_steps.seq).
    steps_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    answers: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    lead_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    waiting_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    wake_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    nudged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FlowRunStep(TenantOwned, Base):
    """One line of a run's journal: a step done and how it went."""

    __tablename__ = "flow_run_steps"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "run_id"], ["flow_runs.tenant_id", "flow_runs.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "run_id", "seq", name="uq_flow_run_steps_run_seq"),
        Index(
            "ux_flow_run_steps_answer",
            "tenant_id",
            "run_id",
            "inbound_message_id",
            unique=True,
            postgresql_where=text("inbound_message_id IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    seq: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    inbound_message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    message_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
