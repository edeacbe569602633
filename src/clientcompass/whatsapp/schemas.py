"""JSON shapes of the WhatsApp channel API: connecting a sender, uploading a file to send."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field


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
