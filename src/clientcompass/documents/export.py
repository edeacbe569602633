"""CSV exports of quotes and invoices for the accountant, formula-safe.

One row per issued document with the figures as stored (the printed ones), in plain
decimals a spreadsheet reads as numbers ("1234.56"), and dates as ISO dates. Every cell
goes through `csv_safe`, so a customer called `=HYPERLINK(…)` is text, not a formula.
The filters are the lists' (status, customer, issue-date range); drafts are left out
unless asked for, because they are not in the books.
"""

from __future__ import annotations

import uuid
from datetime import date

from clientcompass import csv_safe
from clientcompass.business import service as business
from clientcompass.db import UnitOfWork
from clientcompass.documents.listing import Filters, filtered
from clientcompass.documents.money import from_cents
from clientcompass.documents.service import Kind
from clientcompass.documents.status import LABELS, balance_cents, business_today, effective_status
from clientcompass.errors import InvalidInput
from clientcompass.models import Document, DocumentStatus

COLUMNS = (
    "Number",
    "Issue date",
    "{due}",
    "Customer",
    "Customer VAT number",
    "Status",
    "Excl. VAT",
    "VAT",
    "Total",
    "Paid",
    "Credited",
    "Balance",
)
DUE_HEADERS = {Kind.QUOTE: "Valid until", Kind.INVOICE: "Due date"}
MAX_STATUS_LENGTH = 20


def header(kind: Kind) -> list[str]:
    return [column.format(due=DUE_HEADERS[kind]) for column in COLUMNS]


def _date(value: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise InvalidInput("Give the date as YYYY-MM-DD, e.g. 2026-11-30.", field=field) from error


def filters_from(status: str, customer: str, date_from: str, date_to: str) -> Filters:
    """The list filters from query text (empty form fields mean "any"); bad text is refused."""
    status = status.strip()
    if status and status not in LABELS:
        raise InvalidInput("That status does not exist.", field="status")
    contact_id = None
    if customer.strip():
        try:
            contact_id = uuid.UUID(customer.strip())
        except ValueError as error:
            raise InvalidInput("That customer does not exist.", field="customer") from error
    start, end = _date(date_from, "date_from"), _date(date_to, "date_to")
    if start and end and start > end:
        raise InvalidInput("The start date is after the end date.", field="date_from")
    return Filters(status=status, contact_id=contact_id, date_from=start, date_to=end)


def _amount(cents: int) -> str:
    return f"{from_cents(cents):f}"


def row(document: Document, kind: Kind, today: date) -> list[object]:
    """One document's cells; paid, credited and balance are an invoice's (0 for quotes)."""
    due = document.valid_until if kind is Kind.QUOTE else document.due_date
    invoice = kind is Kind.INVOICE
    status = effective_status(document, today)
    return [
        document.number or "",
        document.issue_date.isoformat(),
        due.isoformat() if due else "",
        document.recipient_name,
        document.recipient_vat_number,
        LABELS.get(status, status),
        _amount(document.subtotal_excl_cents),
        _amount(document.vat_cents),
        _amount(document.total_cents),
        _amount(document.paid_cents if invoice else 0),
        _amount(document.credited_cents if invoice else 0),
        _amount(balance_cents(document) if invoice else 0),
    ]


async def rows(uow: UnitOfWork, kind: Kind, filters: Filters) -> list[list[object]]:
    """The matching documents of the unit's tenant, oldest first (the books' order)."""
    assert uow.tenant_id is not None
    profile = await business.profile_of(uow, uow.tenant_id)
    today = business_today(profile.timezone, uow.now)
    query = filtered(uow.tenant_id, kind, filters, today)
    if not filters.status:  # drafts are not in the books
        query = query.where(Document.status != DocumentStatus.DRAFT.value)
    query = query.order_by(Document.issue_date, Document.number, Document.created_at)
    return [row(document, kind, today) for document in await uow.session.scalars(query)]


async def export_csv(uow: UnitOfWork, kind: Kind, filters: Filters) -> str:
    """The whole CSV document (BOM, CRLF, every cell neutralised)."""
    if kind is Kind.CREDIT_NOTE:
        raise InvalidInput("Credit notes are not exported on their own yet.")
    return csv_safe.write_csv(header(kind), await rows(uow, kind, filters))


def filename(kind: Kind, today: date) -> str:
    return f"{'quotes' if kind is Kind.QUOTE else 'invoices'}-{today.isoformat()}.csv"
