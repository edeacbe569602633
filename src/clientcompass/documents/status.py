"""What a document's status means now: stored statuses plus the two computed from dates."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from clientcompass.documents.numbering import DocumentKind
from clientcompass.models import Document, DocumentStatus

OVERDUE = "overdue"
EXPIRED = "expired"

# Invoices that still wait for money, and quotes that still wait for an answer.
AWAITING_PAYMENT = frozenset(
    {
        DocumentStatus.FINALISED.value,
        DocumentStatus.SENT.value,
        DocumentStatus.VIEWED.value,
        DocumentStatus.PARTIALLY_PAID.value,
    }
)
AWAITING_ANSWER = frozenset(
    {DocumentStatus.FINALISED.value, DocumentStatus.SENT.value, DocumentStatus.VIEWED.value}
)

LABELS = {
    "draft": "Draft",
    "finalised": "Finalised",
    "sent": "Sent",
    "viewed": "Viewed",
    "accepted": "Accepted",
    "declined": "Declined",
    "invoiced": "Invoiced",
    "partially_paid": "Partially paid",
    "paid": "Paid",
    "voided": "Voided",
    "issued": "Issued",
    OVERDUE: "Overdue",
    EXPIRED: "Expired",
}


def balance_cents(document: Document) -> int:
    """What the customer still owes: total less payments and credit notes (never below 0)."""
    return max(0, document.total_cents - document.paid_cents - document.credited_cents)


def business_today(timezone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def effective_status(document: Document, today: date) -> str:
    """The stored status, or `overdue` / `expired` when the date has passed."""
    if (
        document.kind == DocumentKind.INVOICE
        and document.status in AWAITING_PAYMENT
        and document.due_date is not None
        and document.due_date < today
        and balance_cents(document) > 0
    ):
        return OVERDUE
    if (
        document.kind == DocumentKind.QUOTE
        and document.status in AWAITING_ANSWER
        and document.valid_until is not None
        and document.valid_until < today
    ):
        return EXPIRED
    return document.status


def paid_status(document: Document) -> str:
    """After a payment or a credit: paid when nothing is owed, partially paid when some is."""
    if balance_cents(document) == 0:
        return DocumentStatus.PAID.value if document.paid_cents > 0 else document.status
    if document.paid_cents > 0:
        return DocumentStatus.PARTIALLY_PAID.value
    return document.status
