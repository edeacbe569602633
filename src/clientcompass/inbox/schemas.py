"""JSON shapes of the inbox API: conversations with assignee and labels, actions, notes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from clientcompass.conversations.schemas import ConversationOut
from clientcompass.models import ConversationStatus


class ConversationPage(BaseModel):
    conversations: list[ConversationOut]
    next_cursor: str | None = Field(description="pass as `after` for the next page")
    unread_total: int = Field(
        description="conversations with unread messages in the whole inbox, counted up to 100"
    )


class AssignIn(BaseModel):
    assignee_id: uuid.UUID | None = Field(description="a teammate's user id, or null to unassign")


class StatusIn(BaseModel):
    status: ConversationStatus
    until: datetime | None = Field(None, description="required with `snoozed`: when to reopen")


class LabelIn(BaseModel):
    label: str = Field(min_length=1, max_length=40)


class LabelsOut(BaseModel):
    labels: list[str]


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=4096)


class EventOut(BaseModel):
    """A private note or system event in a thread (never sent to the customer)."""

    id: uuid.UUID
    kind: str
    body: str
    author_id: uuid.UUID | None
    data: dict[str, Any]
    created_at: datetime


class CannedIn(BaseModel):
    shortcut: str = Field(min_length=1, max_length=41)
    body: str = Field(min_length=1, max_length=4096)


class CannedOut(BaseModel):
    id: uuid.UUID
    shortcut: str
    body: str
