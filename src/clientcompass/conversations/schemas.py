"""JSON shapes of conversations and messages: one shape for the API and the inbox, each
carrying the 24-hour window state and the message statuses."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from clientcompass.models import ConversationStatus, Direction, MessageStatus


class WindowOut(BaseModel):
    is_open: bool
    closes_at: datetime | None
    seconds_left: int


class ContactOut(BaseModel):
    id: uuid.UUID
    phone: str
    name: str
    profile_name: str
    email: str
    created_at: datetime


class ConversationOut(BaseModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    contact: ContactOut
    status: ConversationStatus
    last_message_at: datetime | None
    last_message_preview: str
    unread_count: int
    window: WindowOut
    assignee_id: uuid.UUID | None
    assignee_name: str
    labels: list[str]
    snoozed_until: datetime | None


class MediaOut(BaseModel):
    id: uuid.UUID | None = None
    content_type: str = ""
    size: int | None = None
    filename: str = ""
    state: str = ""
    url: str = ""


class MessageOut(BaseModel):
    id: uuid.UUID
    direction: Direction
    body: str
    status: MessageStatus
    status_times: dict[str, str]
    error_code: int | None
    error: str
    content_sid: str
    content_variables: dict[str, str]
    media: list[MediaOut]
    details: dict[str, Any]
    created_at: datetime


class MessagesPage(BaseModel):
    conversation: ConversationOut
    messages: list[MessageOut]


class TemplateSend(BaseModel):
    """An approved template by its id (checked and rendered here), or a raw ContentSid."""

    id: uuid.UUID | None = Field(None, description="a template from /api/v1/templates")
    content_sid: str = Field("", max_length=40)
    variables: dict[str, str] = Field(default_factory=dict)
    preview: str = Field("", max_length=4096)

    @model_validator(mode="after")
    def _which(self) -> TemplateSend:
        if self.id is None and len(self.content_sid) < 2:
            raise ValueError("Choose a template (id) or give its content_sid.")
        return self


class MessageIn(BaseModel):
    """Free text and/or an uploaded file (inside the 24-hour window), or an approved template
    (any time). WhatsApp carries one file per message; `text` is then its caption."""

    text: str = Field("", max_length=4096)
    media_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1)
    template: TemplateSend | None = None
    client_key: uuid.UUID | None = Field(
        None,
        description=(
            "Idempotency key (a UUID you generate per message). Sending again with the same "
            "key, after a timeout or a lost connection, returns the message the first send "
            "stored instead of sending it twice. Keys are kept per business."
        ),
    )

    @model_validator(mode="after")
    def _something(self) -> MessageIn:
        if not (self.text.strip() or self.media_ids or self.template):
            raise ValueError("Send some text, a file or a template.")
        return self
