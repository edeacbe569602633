"""JSON shapes of the flows API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from clientcompass.models import Flow, FlowRun, FlowVersion


class FlowCreate(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    starter: str | None = Field(
        default=None, description="A starter's slug: plumber-call-out, quote-with-photos, …"
    )
    definition: dict[str, Any] | None = Field(
        default=None, description="A definition to start from instead of a starter"
    )


class FlowUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    definition: dict[str, Any] = Field(description="The whole draft (see flows/definition.py)")


class FlowOut(BaseModel):
    id: uuid.UUID
    name: str
    trigger_kind: str
    live_version: int | None
    draft: dict[str, Any]
    updated_at: datetime
    updated_by: uuid.UUID | None

    @classmethod
    def of(cls, flow: Flow) -> FlowOut:
        return cls(
            id=flow.id,
            name=flow.name,
            trigger_kind=flow.trigger_kind,
            live_version=flow.live_version,
            draft=flow.draft,
            updated_at=flow.updated_at,
            updated_by=flow.updated_by,
        )


class FlowVersionOut(BaseModel):
    flow_id: uuid.UUID
    number: int
    trigger_kind: str
    definition: dict[str, Any]
    published_at: datetime
    published_by: uuid.UUID | None

    @classmethod
    def of(cls, version: FlowVersion) -> FlowVersionOut:
        return cls(
            flow_id=version.flow_id,
            number=version.number,
            trigger_kind=version.trigger_kind,
            definition=version.definition,
            published_at=version.published_at,
            published_by=version.published_by,
        )


class StarterOut(BaseModel):
    slug: str
    name: str
    summary: str


class ProblemOut(BaseModel):
    step_id: str | None = Field(description="The step the problem is on; null: the whole flow")
    step_title: str
    message: str


class FlowErrorDetail(BaseModel):
    code: str
    message: str
    problems: list[ProblemOut] = Field(default_factory=list)


class FlowErrorOut(BaseModel):
    """422 for a draft that can't run: every problem, each naming its step."""

    error: FlowErrorDetail


class RunOut(BaseModel):
    """A flow run: where it stands, what it has gathered, and why it ended."""

    id: uuid.UUID
    flow_id: uuid.UUID
    version: int | None  # None: a trial of the draft on the sandbox phone
    conversation_id: uuid.UUID
    contact_id: uuid.UUID
    trigger: str
    status: str
    step_id: str | None
    waiting: str
    answers: dict[str, Any]
    lead_id: uuid.UUID | None
    end_reason: str
    started_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, run: FlowRun) -> RunOut:
        return cls(
            id=run.id,
            flow_id=run.flow_id,
            version=run.version,
            conversation_id=run.conversation_id,
            contact_id=run.contact_id,
            trigger=run.trigger,
            status=run.status,
            step_id=run.step_id,
            waiting=run.waiting,
            answers={k: v for k, v in run.answers.items() if not k.startswith("_")},
            lead_id=run.lead_id,
            end_reason=run.end_reason,
            started_at=run.started_at,
            ended_at=run.ended_at,
        )


class RunStart(BaseModel):
    flow_id: uuid.UUID
