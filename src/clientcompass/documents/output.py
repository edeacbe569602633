"""A loaded document as the API (and the pages) show it."""

from __future__ import annotations

from datetime import date

from clientcompass.documents.money import deposit_cents, format_zar
from clientcompass.documents.render import vat_rate
from clientcompass.documents.schemas import DocumentOut, EventOut, LineOut, PaymentOut
from clientcompass.documents.service import Kind, Loaded
from clientcompass.documents.status import balance_cents, effective_status

TITLES = {Kind.QUOTE: "Quotation", Kind.INVOICE: "Invoice", Kind.CREDIT_NOTE: "Credit Note"}


def document_out(loaded: Loaded, today: date, *, vat_registered: bool) -> DocumentOut:
    document = loaded.document
    kind = Kind(document.kind)
    balance = balance_cents(document) if kind is Kind.INVOICE else 0
    title = TITLES[kind]
    if kind is Kind.INVOICE and vat_registered:
        title = "Tax Invoice"
    return DocumentOut(
        id=document.id,
        kind=document.kind,
        status=effective_status(document, today),
        number=document.number,
        title=title,
        contact_id=document.contact_id,
        recipient_name=document.recipient_name,
        recipient_vat_number=document.recipient_vat_number,
        billing_address=document.billing_address,
        service_address=document.service_address,
        job_description=document.job_description,
        price_mode=document.price_mode,
        rounding=document.rounding,
        vat_rate=vat_rate(document),
        issue_date=document.issue_date,
        valid_until=document.valid_until,
        due_date=document.due_date,
        terms=document.terms,
        notes=document.notes,
        deposit_percent=document.deposit_percent,
        subtotal_excl_cents=document.subtotal_excl_cents,
        vat_cents=document.vat_cents,
        total_cents=document.total_cents,
        discount_cents=document.discount_cents,
        deposit_cents=deposit_cents(document.total_cents, document.deposit_percent),
        paid_cents=document.paid_cents,
        credited_cents=document.credited_cents,
        balance_cents=balance,
        total=format_zar(document.total_cents),
        balance=format_zar(balance),
        source_id=document.source_id,
        invoice_part=document.invoice_part,
        reason=document.reason,
        pdf_sha256=document.pdf_sha256,
        finalised_at=document.finalised_at,
        sent_at=document.sent_at,
        viewed_at=document.viewed_at,
        responded_at=document.responded_at,
        created_at=document.created_at,
        lines=[LineOut.model_validate(line) for line in loaded.lines],
        payments=[PaymentOut.model_validate(payment) for payment in loaded.payments],
        events=[EventOut.model_validate(event) for event in loaded.events],
    )
