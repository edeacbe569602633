"""What a contact accepts and returns; the HTML forms and the JSON API share these."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from clientcompass.models import ConversationStatus
from clientcompass.phones import normalise_za_phone

MAX_TAGS = 20
MAX_TAG_LENGTH = 40


def normalise_tags(value: object) -> list[str]:
    """Tags are short lowercase words; a form sends them comma-separated, the API as a list.

    Lowercase and dashes instead of spaces, so "Geyser repair" and "geyser-repair" are one tag
    and each tag is one search lexeme."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[object] = list(re.split(r"[,;\n]", value))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError("Give tags as a list of words.")
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError("Each tag must be a word or two.")
        tag = re.sub(r"\s+", "-", item.strip().lower()).strip("-")
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"A tag can be at most {MAX_TAG_LENGTH} characters: {tag[:20]}…")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"Use at most {MAX_TAGS} tags.")
    return tags


def normalise_email(value: str) -> str:
    """The same check as the rest of the app's email fields (pydantic's), blank allowed."""
    value = value.strip()
    if not value:
        return ""
    try:
        return validate_email(value)[1]
    except PydanticCustomError as exc:
        raise ValueError("Enter an email address like name@example.co.za.") from exc


def required_phone(value: str) -> str:
    phone = normalise_za_phone(value)
    if not phone:
        raise ValueError("Enter the contact's phone number, e.g. 082 123 4567.")
    return phone


class ContactIn(BaseModel):
    """A new contact, or every field of one being edited on its page."""

    name: str = Field("", max_length=200)
    phone: str = Field(max_length=40, description="E.164, or a South African number: 082 123 4567")
    email: str = Field("", max_length=254)
    address: str = Field("", max_length=1000)
    tags: list[str] = Field(default_factory=list, description="short words, e.g. vip, geyser")
    notes: str = Field("", max_length=5000)

    @field_validator("name", "address", "notes", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return required_phone(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalise_email(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: object) -> list[str]:
        return normalise_tags(value)


class ContactPatch(BaseModel):
    """A partial update for the JSON API: fields left out stay as they are."""

    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    address: str | None = Field(None, max_length=1000)
    tags: list[str] | None = None
    notes: str | None = Field(None, max_length=5000)

    @field_validator("name", "address", "notes", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else required_phone(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else normalise_email(value)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: object) -> list[str] | None:
        return None if value is None else normalise_tags(value)


class MarketingConsent(BaseModel):
    """Whether marketing messages may go to this contact (POPIA s69; contacts/consent.py)."""

    opted_in: bool = Field(description="false once they replied STOP (or a member recorded it)")
    opted_out_at: datetime | None = None
    how: str = Field("", description='how they opted out, e.g. "replied STOP"')


class ContactOut(BaseModel):
    """A superset of the first API's contact (id, phone, name, profile_name, email, created_at)."""

    id: uuid.UUID
    phone: str
    name: str
    profile_name: str
    display_name: str
    email: str
    address: str
    tags: list[str]
    notes: str
    wa_id: str
    created_at: datetime
    updated_at: datetime | None
    marketing: MarketingConsent


class ContactConversation(BaseModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    channel_name: str
    status: ConversationStatus
    last_message_at: datetime | None
    last_message_preview: str


class ContactDocument(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="quote, invoice or credit_note")
    number: str | None = Field(description="null for a draft")
    status: str
    issue_date: date | None
    total_cents: int


class ContactDetail(ContactOut):
    conversations: list[ContactConversation]
    documents: list[ContactDocument] = Field(description="quotes, invoices and credit notes")


class MergeIn(BaseModel):
    duplicate_id: uuid.UUID = Field(description="the contact merged into this one, then deleted")


class ImportRowError(BaseModel):
    row: int = Field(description="the spreadsheet row: 1 is the heading row")
    field: str
    message: str


class ImportResult(BaseModel):
    created: int
    updated: int
    errors: list[ImportRowError] = Field(default_factory=list)


class ImportState(StrEnum):
    QUEUED = "queued"
    CHECKING = "checking"
    SAVING = "saving"
    DONE = "done"
    FAILED = "failed"


class ImportStatus(BaseModel):
    """A large import running as a job: how far it has got, then its result."""

    id: uuid.UUID
    state: ImportState
    checked: int = Field(description="rows checked so far")
    total: int = Field(description="rows in the file")
    result: ImportResult | None = None
    problem: str = ""

    @property
    def finished(self) -> bool:
        return self.state in (ImportState.DONE, ImportState.FAILED)
