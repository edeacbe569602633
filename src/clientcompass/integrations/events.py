"""Which durable events go out as webhooks, under which public name, with what payload.

The payload is the Standard Webhooks envelope `{type, timestamp, data}`. `data` holds the
public ids and the fields an integrator maps in Zapier, n8n or Make (number, customer, totals
in cents and as a decimal string), read from the rows when the event is handled, so a
delivery says what is true after the change. Leads are written by the leads package; their
events carry the fields to send, so nothing here reads the leads table.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from clientcompass.db import UnitOfWork
from clientcompass.models import Contact, Document
from clientcompass.realtime.bus import Event


class WebhookEvent(StrEnum):
    LEAD_CREATED = "lead.created"
    LEAD_STAGE_CHANGED = "lead.stage_changed"
    QUOTE_ACCEPTED = "quote.accepted"
    INVOICE_PAID = "invoice.paid"


# The test event is sent only by "Send test event", to one subscription.
TEST_EVENT = "webhook.test"

FROM_BUS: dict[Event, WebhookEvent] = {
    Event.LEAD_CREATED: WebhookEvent.LEAD_CREATED,
    Event.LEAD_STAGE_CHANGED: WebhookEvent.LEAD_STAGE_CHANGED,
    Event.DOCUMENT_ACCEPTED: WebhookEvent.QUOTE_ACCEPTED,
    Event.DOCUMENT_PAID: WebhookEvent.INVOICE_PAID,
}

LABELS: dict[WebhookEvent, str] = {
    WebhookEvent.LEAD_CREATED: "A new lead",
    WebhookEvent.LEAD_STAGE_CHANGED: "A lead moved to another stage",
    WebhookEvent.QUOTE_ACCEPTED: "A customer accepted a quote",
    WebhookEvent.INVOICE_PAID: "An invoice was paid in full",
}

# What a lead event may carry to the receiver (the leads package names them in the event).
LEAD_FIELDS = (
    "contact_id",
    "conversation_id",
    "name",
    "phone",
    "email",
    "source",
    "service",
    "suburb",
    "urgency",
    "stage",
    "previous_stage",
    "lost_reason",
    "estimated_value_cents",
    "owner_id",
)


def envelope(event_type: str, at: datetime, data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": event_type,
        "timestamp": at.isoformat().replace("+00:00", "Z"),
        "data": dict(data),
    }


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _rand(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


async def _contact(uow: UnitOfWork, contact_id: uuid.UUID) -> dict[str, Any] | None:
    contact = await uow.session.get(Contact, (uow.tenant_id, contact_id))
    if contact is None:
        return None
    return {
        "id": str(contact.id),
        "name": contact.name or contact.profile_name,
        "phone": contact.phone_e164,
        "email": contact.email,
    }


async def _document(
    uow: UnitOfWork, kind: WebhookEvent, data: Mapping[str, Any]
) -> dict[str, Any] | None:
    document_id = _uuid(data.get("document_id"))
    if document_id is None:
        return None
    document = await uow.session.get(Document, (uow.tenant_id, document_id))
    expected = "quote" if kind is WebhookEvent.QUOTE_ACCEPTED else "invoice"
    if document is None or document.kind != expected:
        return None
    out: dict[str, Any] = {
        "id": str(document.id),
        "number": document.number,
        "status": document.status,
        "currency": "ZAR",
        "total_cents": document.total_cents,
        "total": _rand(document.total_cents),
        "vat_cents": document.vat_cents,
        "issue_date": document.issue_date.isoformat(),
        "job_description": document.job_description,
        "customer": await _contact(uow, document.contact_id),
    }
    if kind is WebhookEvent.QUOTE_ACCEPTED:
        out["valid_until"] = document.valid_until.isoformat() if document.valid_until else None
        out["accepted_at"] = document.responded_at.isoformat() if document.responded_at else None
    else:
        out["paid_cents"] = document.paid_cents
        out["due_date"] = document.due_date.isoformat() if document.due_date else None
        out["quote_id"] = str(document.source_id) if document.source_id else None
    return out


def _lead(data: Mapping[str, Any]) -> dict[str, Any] | None:
    lead_id = _uuid(data.get("lead_id"))
    if lead_id is None:
        return None
    return {"id": str(lead_id), **{k: data[k] for k in LEAD_FIELDS if k in data}}


async def payload_data(
    uow: UnitOfWork, kind: WebhookEvent, data: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The `data` of a webhook for this event, or None when its subject is gone."""
    if kind in (WebhookEvent.LEAD_CREATED, WebhookEvent.LEAD_STAGE_CHANGED):
        return _lead(data)
    return await _document(uow, kind, data)
