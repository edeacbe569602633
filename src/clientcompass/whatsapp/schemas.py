"""JSON shapes of the WhatsApp channel API: connecting a sender, uploading a file to send,
and message templates."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from clientcompass.models import TemplateCategory, TemplateStatus
from clientcompass.whatsapp.template_rules import TemplateKind


class ChannelIn(BaseModel):
    account_sid: str = Field(min_length=1, max_length=64)
    auth_token: str = Field(min_length=1, max_length=128)
    whatsapp_from: str = Field(min_length=1, max_length=40, description="whatsapp:+27…")
    messaging_service_sid: str = Field("", max_length=64)
    name: str = Field("", max_length=100)


class ChannelOut(BaseModel):
    id: uuid.UUID
    name: str
    whatsapp_from: str
    account_sid: str
    is_sandbox: bool
    inbound_webhook_url: str
    status_callback_url: str


class UploadOut(BaseModel):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int


class ButtonIn(BaseModel):
    title: str = Field(max_length=100)
    type: str = Field("", max_length=20, description="call_to_action only: URL or PHONE_NUMBER")
    url: str = Field("", max_length=2000, description="for a URL button")
    phone: str = Field("", max_length=30, description="for a PHONE_NUMBER button")
    id: str = Field("", max_length=200, description="quick_reply only: the payload sent back")


class TemplateIn(BaseModel):
    """A new template; it is checked as WhatsApp's reviewers would, then stored as a draft."""

    channel_id: uuid.UUID | None = Field(
        None, description="the WhatsApp number; optional when only one is connected"
    )
    name: str = Field(max_length=200, description="lowercase letters, digits and underscores")
    language: str = Field("en", max_length=10, description="e.g. en, en_US, af, zu")
    category: TemplateCategory
    kind: TemplateKind = TemplateKind.TEXT
    body: str = Field(max_length=5000, description="text with {{1}}, {{2}}… placeholders")
    variables: dict[str, str] = Field(
        default_factory=dict, description='a sample value per placeholder: {"1": "Sipho"}'
    )
    actions: list[ButtonIn] = Field(default_factory=list, max_length=10)
    media_url: str = Field("", max_length=2000, description="media kind only: https://…")


class TemplateOut(BaseModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    name: str
    language: str
    category: TemplateCategory
    kind: str
    body: str
    variables: dict[str, str]
    actions: list[dict[str, str]]
    media_url: str
    content_sid: str
    status: TemplateStatus
    rejection_reason: str
    submitted_at: datetime | None
    synced_at: datetime | None
    created_at: datetime
    placeholders: list[str] = Field(description="the numbers a sender must fill, in order")
    preview: str = Field(description="the body filled with the sample values")


class SendValuesIn(BaseModel):
    variables: dict[str, str] = Field(default_factory=dict)


class PreparedTemplate(BaseModel):
    """Ready to post as `template` to /conversations/{id}/messages."""

    content_sid: str
    variables: dict[str, str]
    preview: str = Field(description="the text the customer will read")


class SyncReportOut(BaseModel):
    templates: list[TemplateOut]
    failed: dict[uuid.UUID, str]
