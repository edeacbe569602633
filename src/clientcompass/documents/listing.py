"""Lists of quotes, invoices and credit notes: filters, keyset pages and the money totals."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, tuple_

from clientcompass.business import service as business
from clientcompass.db import UnitOfWork
from clientcompass.documents.money import format_zar
from clientcompass.documents.schemas import DocumentSummary, ListTotals
from clientcompass.documents.service import Kind
from clientcompass.documents.status import (
    AWAITING_ANSWER,
    AWAITING_PAYMENT,
    EXPIRED,
    OVERDUE,
    balance_cents,
    business_today,
    effective_status,
)
from clientcompass.errors import InvalidInput
from clientcompass.models import Document, Payment

BALANCE = Document.total_cents - Document.paid_cents - Document.credited_cents


@dataclass(frozen=True)
class Filters:
    status: str = ""
    contact_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class Page:
    items: list[DocumentSummary]
    next_cursor: str | None


def summary(document: Document, today: date) -> DocumentSummary:
    balance = balance_cents(document) if document.kind == Kind.INVOICE else 0
    return DocumentSummary(
        id=document.id,
        kind=document.kind,
        status=effective_status(document, today),
        number=document.number,
        recipient_name=document.recipient_name,
        job_description=document.job_description,
        contact_id=document.contact_id,
        issue_date=document.issue_date,
        due_date=document.due_date,
        valid_until=document.valid_until,
        total_cents=document.total_cents,
        balance_cents=balance,
        total=format_zar(document.total_cents),
        balance=format_zar(balance),
    )


def status_condition(kind: Kind, status: str, today: date) -> ColumnElement[bool]:
    """Computed statuses as SQL: overdue and expired are dates passed on waiting documents,
    and a waiting document past its date shows as overdue/expired, not as its stored status."""
    if status == OVERDUE:
        return and_(Document.status.in_(AWAITING_PAYMENT), Document.due_date < today, BALANCE > 0)
    if status == EXPIRED:
        return and_(Document.status.in_(AWAITING_ANSWER), Document.valid_until < today)
    condition = Document.status == status
    if kind is Kind.INVOICE and status in AWAITING_PAYMENT:
        return and_(
            condition,
            or_(Document.due_date.is_(None), Document.due_date >= today, BALANCE <= 0),
        )
    if kind is Kind.QUOTE and status in AWAITING_ANSWER:
        return and_(condition, or_(Document.valid_until.is_(None), Document.valid_until >= today))
    return condition


def filtered(tenant_id: uuid.UUID, kind: Kind, filters: Filters, today: date) -> Select[Document]:
    """The tenant's documents of one kind that match the filters (the list and the export)."""
    query = (
        select(Document).where(Document.tenant_id == tenant_id).where(Document.kind == kind.value)
    )
    if filters.status:
        query = query.where(status_condition(kind, filters.status, today))
    if filters.contact_id is not None:
        query = query.where(Document.contact_id == filters.contact_id)
    if filters.date_from is not None:
        query = query.where(Document.issue_date >= filters.date_from)
    if filters.date_to is not None:
        query = query.where(Document.issue_date <= filters.date_to)
    return query


def encode_cursor(document: Document) -> str:
    raw = f"{document.issue_date.isoformat()}|{document.created_at.isoformat()}|{document.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[date, datetime, uuid.UUID]:
    try:
        issued, created, document_id = base64.urlsafe_b64decode(cursor).decode().split("|")
        return date.fromisoformat(issued), datetime.fromisoformat(created), uuid.UUID(document_id)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("That page link is broken. Start from the first page.") from error


async def list_documents(
    uow: UnitOfWork, kind: Kind, filters: Filters, *, cursor: str = "", limit: int = 50
) -> Page:
    """Newest first by issue date, paged by keyset (issue date, creation time, id)."""
    assert uow.tenant_id is not None
    profile = await business.profile_of(uow, uow.tenant_id)
    today = business_today(profile.timezone, uow.now)
    query = filtered(uow.tenant_id, kind, filters, today)
    if cursor:
        query = query.where(
            tuple_(Document.issue_date, Document.created_at, Document.id)
            < tuple_(*decode_cursor(cursor))
        )
    rows = list(
        await uow.session.scalars(
            query.order_by(
                Document.issue_date.desc(), Document.created_at.desc(), Document.id.desc()
            ).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        [summary(row, today) for row in rows],
        encode_cursor(rows[-1]) if more and rows else None,
    )


async def invoice_totals(uow: UnitOfWork) -> ListTotals:
    """Outstanding and overdue balances, and what was paid this calendar month."""
    assert uow.tenant_id is not None
    profile = await business.profile_of(uow, uow.tenant_id)
    today = business_today(profile.timezone, uow.now)
    waiting = (
        select(
            func.coalesce(func.sum(BALANCE), 0),
            func.coalesce(func.sum(BALANCE).filter(Document.due_date < today), 0),
        )
        .where(Document.tenant_id == uow.tenant_id)
        .where(Document.kind == Kind.INVOICE.value)
        .where(Document.status.in_(AWAITING_PAYMENT))
        .where(BALANCE > 0)
    )
    outstanding, overdue = (await uow.session.execute(waiting)).one()
    paid = await uow.session.scalar(
        select(func.coalesce(func.sum(Payment.amount_cents), 0))
        .where(Payment.tenant_id == uow.tenant_id)
        .where(Payment.paid_on >= today.replace(day=1))
        .where(Payment.paid_on <= today)
    )
    return ListTotals(
        outstanding_cents=int(outstanding),
        overdue_cents=int(overdue),
        paid_this_month_cents=int(paid or 0),
        outstanding=format_zar(int(outstanding)),
        overdue=format_zar(int(overdue)),
        paid_this_month=format_zar(int(paid or 0)),
    )
