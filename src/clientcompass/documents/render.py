"""From stored rows to the PDF's `DocumentData`: every figure formatted as the app shows it."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from babel.dates import format_date

from clientcompass import phones
from clientcompass.business.schemas import BankingDetails
from clientcompass.documents import money, pdf
from clientcompass.documents.money import DiscountKind, VatTreatment, deposit_cents, to_cents
from clientcompass.documents.numbering import DocumentKind
from clientcompass.models import BusinessProfile, Document, DocumentLine

DRAFT_NUMBER = "DRAFT"

# Babel's number formatting was a quarter of a 20-page invoice's render (about 80 µs a
# line), and dates and the phone number a tenth of a one-page one's Python side. The
# formatters are pure, and a business's figures repeat (the same unit prices, quantities
# and amounts, line after line and document after document), so each process keeps the
# recent ones.
format_zar = functools.lru_cache(maxsize=4096)(money.format_zar)
format_quantity = functools.lru_cache(maxsize=1024)(money.format_quantity)
national = functools.lru_cache(maxsize=1024)(phones.national)

ACCOUNT_TYPES = {
    "cheque": "Cheque / current",
    "savings": "Savings",
    "transmission": "Transmission",
    "business": "Business",
}


@functools.lru_cache(maxsize=1024)
def display_date(value: date | None) -> str:
    """A date the en_ZA way, e.g. '27 Nov 2026'."""
    return "" if value is None else format_date(value, "d MMM y", locale="en_ZA")


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _vat_label(line: DocumentLine, rate: Decimal) -> str:
    if line.vat == VatTreatment.EXEMPT:
        return "Exempt"
    if line.vat == VatTreatment.ZERO_RATED:
        return "0%"
    return f"{rate.normalize():f}%"


def _discount(line: DocumentLine, sign: int) -> str:
    if not line.discount_cents:
        return ""
    if line.discount_kind == DiscountKind.PERCENT:
        return f"{line.discount_value.normalize():f}%"
    return format_zar(sign * line.discount_cents)


def vat_rate(document: Document) -> Decimal:
    return (Decimal(document.vat_rate_bp) / 100).quantize(Decimal("0.01"))


def document_data(
    document: Document,
    lines: Sequence[DocumentLine],
    profile: BusinessProfile,
    *,
    banking: BankingDetails | None,
    original: Document | None = None,
    reprint: bool = False,
) -> pdf.DocumentData:
    """Everything the PDF prints. Credit notes show their amounts negated (money.py)."""
    kind = DocumentKind(document.kind)
    sign = -1 if kind is DocumentKind.CREDIT_NOTE else 1
    rate = vat_rate(document)
    is_vat_registered = bool(profile.vat_number)
    priced_gross = document.price_mode == "inclusive"
    totals = pdf.Totals(
        subtotal_excl=format_zar(sign * document.subtotal_excl_cents),
        vat=format_zar(sign * document.vat_cents),
        total=format_zar(sign * document.total_cents),
        vat_label=f"VAT ({rate.normalize():f}%)" if is_vat_registered else "VAT",
        deposit=format_zar(deposit_cents(document.total_cents, document.deposit_percent))
        if kind is DocumentKind.QUOTE and document.deposit_percent
        else "",
    )
    return pdf.DocumentData(
        kind=kind.value,
        number=document.number or DRAFT_NUMBER,
        issued_on=document.issue_date,
        issue_date=display_date(document.issue_date),
        supplier=pdf.Supplier(
            trading_name=profile.trading_name,
            address=_lines(profile.physical_address or profile.postal_address),
            registered_name=profile.registered_name,
            registration_number=profile.registration_number,
            vat_number=profile.vat_number,
            phone=national(profile.phone) if profile.phone else "",
            email=profile.email,
            logo=profile.logo,
        ),
        recipient=pdf.Recipient(
            name=document.recipient_name,
            address=_lines(document.billing_address),
            vat_number=document.recipient_vat_number,
        ),
        lines=tuple(
            pdf.Line(
                description=line.description,
                quantity=format_quantity(line.quantity),
                unit=line.unit,
                unit_price=format_zar(sign * to_cents(line.unit_price)),
                discount=_discount(line, sign),
                vat=_vat_label(line, rate) if is_vat_registered else "",
                amount=format_zar(sign * (line.gross_cents if priced_gross else line.net_cents)),
            )
            for line in lines
        ),
        totals=totals,
        is_vat_registered=is_vat_registered,
        reprint=reprint,
        due_date=display_date(document.due_date),
        valid_until=display_date(document.valid_until),
        banking=None
        if banking is None or kind is not DocumentKind.INVOICE
        else pdf.Banking(
            bank=banking.bank,
            account_holder=banking.account_holder,
            account_number=banking.account_number,
            branch_code=banking.branch_code,
            account_type=ACCOUNT_TYPES.get(banking.account_type, str(banking.account_type)),
        ),
        terms=document.terms,
        notes="\n\n".join(
            part
            for part in (
                f"Job: {document.job_description}" if document.job_description else "",
                f"Service address: {', '.join(_lines(document.service_address))}"
                if document.service_address
                else "",
                document.notes,
            )
            if part
        ),
        original_invoice_number=(original.number or "") if original else "",
        original_invoice_date=display_date(original.issue_date) if original else "",
        reason=document.reason,
    )
