"""What the leads API takes and gives. Money is integer cents, read from rand as people type
it and rounded once, half up (the rule documents/money.py keeps for quotes)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from clientcompass.models import LeadSource, LeadStage

MAX_CENTS = 10**14 - 1
MAX_ANSWERS_BYTES = 16_000
MAX_PHOTOS = 20
_AMOUNT = re.compile(r"\d+(\.\d+)?")


def rand_to_cents(value: object) -> int | None:
    """'R1 500,50', '1500.5' or a number → cents (ROUND_HALF_UP); blank → None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("Type an amount in rand, like 1 500,00.")
    text = str(value).strip().removeprefix("R").replace("\u00a0", "").replace(" ", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")
    text = text.replace(",", "")
    if not _AMOUNT.fullmatch(text):
        raise ValueError("Type an amount in rand, like 1 500,00.")
    try:
        cents = int((Decimal(text) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation as exc:
        raise ValueError("Type an amount in rand, like 1 500,00.") from exc
    if cents > MAX_CENTS:
        raise ValueError("That amount is too large.")
    return cents


def format_rand(cents: int | None) -> str:
    """'R 1 500,50' with no-break spaces, as documents print money; '' for no value."""
    if cents is None:
        return ""
    whole, part = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", "\u00a0")
    return f"{'-' if cents < 0 else ''}R\u00a0{grouped},{part:02d}"


RandCents = Annotated[
    int | None,
    BeforeValidator(rand_to_cents),
    Field(description="Rand ('R1 500,00', '1500.00' or a number), stored as cents."),
]


def _answers(value: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(value, default=str)) > MAX_ANSWERS_BYTES:
        raise ValueError("The answers are too long.")
    return value


class LeadFields(BaseModel):
    """What a person or a flow may set on a lead."""

    service: str = Field("", max_length=200)
    suburb: str = Field("", max_length=200)
    urgency: str = Field("", max_length=40)
    photos: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_PHOTOS)
    answers: dict[str, Any] = Field(default_factory=dict)
    estimated_value: RandCents = None
    owner_id: uuid.UUID | None = None

    @field_validator("service", "suburb", "urgency", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("answers")
    @classmethod
    def _answers_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _answers(value)


class LeadIn(LeadFields):
    contact_id: uuid.UUID
    conversation_id: uuid.UUID | None = None
    source: LeadSource = LeadSource.MANUAL
    referral: dict[str, Any] | None = None


class LeadPatch(BaseModel):
    """Only the fields sent change; `owner_id: null` unassigns."""

    service: str | None = Field(None, max_length=200)
    suburb: str | None = Field(None, max_length=200)
    urgency: str | None = Field(None, max_length=40)
    photos: list[uuid.UUID] | None = Field(None, max_length=MAX_PHOTOS)
    answers: dict[str, Any] | None = None
    estimated_value: RandCents = None
    owner_id: uuid.UUID | None = None

    @field_validator("service", "suburb", "urgency", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("answers")
    @classmethod
    def _answers_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _answers(value)


class StageIn(BaseModel):
    stage: LeadStage
    reason: str = Field("", max_length=500, description="Required when the stage is `lost`.")


class StageChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_stage: str | None
    to_stage: str
    reason: str
    actor_id: uuid.UUID | None
    at: datetime


class LeadOut(BaseModel):
    id: uuid.UUID
    contact_id: uuid.UUID
    contact_name: str
    contact_phone: str
    conversation_id: uuid.UUID | None
    source: str
    stage: str
    service: str
    suburb: str
    urgency: str
    photos: list[str]
    answers: dict[str, Any]
    estimated_value_cents: int | None
    estimated_value: str
    owner_id: uuid.UUID | None
    lost_reason: str
    referral: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    stage_changed_at: datetime
    first_reply_at: datetime | None


class LeadDetail(LeadOut):
    history: list[StageChangeOut]
    quote_ids: list[uuid.UUID]
