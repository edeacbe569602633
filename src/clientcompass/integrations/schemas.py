"""The JSON shapes of outgoing webhooks: a subscription (never its secret, except once, when
it is made or rotated) and a delivery in the log."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from clientcompass.integrations.events import WebhookEvent
from clientcompass.models import WebhookDelivery, WebhookSubscription


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where to POST: an https URL on the public internet.",
        examples=["https://hooks.zapier.com/hooks/catch/123/abc/"],
    )
    events: list[WebhookEvent] = Field(min_length=1, description="The events to send there.")
    description: str = Field("", max_length=200, description="A name to tell it apart.")


class WebhookStateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool = Field(description="false pauses deliveries; true resumes (or re-enables).")


class WebhookOut(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    status: str = Field(description="active, paused, or disabled (the receiver answered 410).")
    disabled_reason: str
    created_at: datetime

    @classmethod
    def of(cls, row: WebhookSubscription) -> WebhookOut:
        return cls(
            id=row.id,
            url=row.url,
            events=list(row.events),
            description=row.description,
            status=row.status,
            disabled_reason=row.disabled_reason,
            created_at=row.created_at,
        )


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="The signing secret (whsec_…) for verifying deliveries (Standard Webhooks). "
        "Shown only now: store it."
    )


class SecretOut(BaseModel):
    secret: str = Field(description="The new signing secret, shown only now.")
    previous_valid_until: datetime | None = Field(
        description="Until then deliveries are signed with the old secret too."
    )


class DeliveryOut(BaseModel):
    id: uuid.UUID
    subscription_id: uuid.UUID
    message_id: str = Field(description="The webhook-id header: the same on every attempt.")
    event_type: str
    status: str = Field(description="pending, retrying, delivered, failed or skipped.")
    attempts: int
    last_status_code: int | None
    last_error: str
    last_duration_ms: int | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=row.id,
            subscription_id=row.subscription_id,
            message_id=row.message_id,
            event_type=row.event_type,
            status=row.status,
            attempts=row.attempts,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            last_duration_ms=row.last_duration_ms,
            created_at=row.created_at,
            last_attempt_at=row.last_attempt_at,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
        )
