"""Quotes, invoices and credit notes: drafts, finalising (number + PDF), loading, the PDF.

An issued document is never edited. Finalising prices it for the last time, gives it its
number in the same transaction (gapless, numbering.py), renders the PDF and stores it with
its content hash; afterwards the stored bytes are what everyone gets.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import anyio
from sqlalchemy import delete, select

from clientcompass import files
from clientcompass.audit import service as audit
from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.conversations import service as conversations
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.documents import money, numbering, pdf
from clientcompass.documents import settings as document_settings
from clientcompass.documents.render import document_data
from clientcompass.documents.schemas import DocumentIn, LineIn
from clientcompass.documents.status import business_today
from clientcompass.errors import Conflict, InvalidInput, NotFound
from clientcompass.leads import service as leads
from clientcompass.models import (
    AuditAction,
    BusinessProfile,
    Contact,
    Document,
    DocumentEvent,
    DocumentLine,
    DocumentStatus,
    Payment,
    Retention,
)
from clientcompass.names import display_name
from clientcompass.storage import Storage

Kind = numbering.DocumentKind
NOUNS = {Kind.QUOTE: "quote", Kind.INVOICE: "invoice", Kind.CREDIT_NOTE: "credit note"}
NEVER_EDITED = (
    "This {noun} is finalised and can't be edited. Duplicate it, or correct an invoice "
    "with a credit note."
)


@dataclass(frozen=True)
class Loaded:
    """A document with what its pages and PDF need, loaded explicitly (no lazy loads)."""

    document: Document
    lines: list[DocumentLine]
    payments: list[Payment]
    events: list[DocumentEvent]


def add_event(
    uow: UnitOfWork,
    document: Document,
    kind: str,
    *,
    actor_id: uuid.UUID | None = None,
    key: str | None = None,
    **detail: object,
) -> None:
    uow.session.add(
        DocumentEvent(
            tenant_id=document.tenant_id,
            id=uuid.uuid4(),
            document_id=document.id,
            kind=kind,
            key=key,
            detail=detail,
            actor_id=actor_id,
            at=uow.now,
        )
    )


async def get_document(
    uow: UnitOfWork, document_id: uuid.UUID, kind: Kind | None = None, *, for_update: bool = False
) -> Document:
    assert uow.tenant_id is not None
    query = (
        select(Document)
        .where(Document.tenant_id == uow.tenant_id)
        .where(Document.id == document_id)
    )
    if kind is not None:
        query = query.where(Document.kind == kind.value)
    if for_update:
        query = query.with_for_update()
    document = await uow.session.scalar(query)
    if document is None:
        raise NotFound(f"That {NOUNS[kind] if kind else 'document'} does not exist.")
    return document


async def load(uow: UnitOfWork, document_id: uuid.UUID, kind: Kind | None = None) -> Loaded:
    document = await get_document(uow, document_id, kind)
    return Loaded(
        document,
        await _lines_of(uow, document.id),
        list(
            await uow.session.scalars(
                select(Payment)
                .where(Payment.tenant_id == document.tenant_id)
                .where(Payment.document_id == document.id)
                .order_by(Payment.paid_on, Payment.created_at)
            )
        ),
        list(
            await uow.session.scalars(
                select(DocumentEvent)
                .where(DocumentEvent.tenant_id == document.tenant_id)
                .where(DocumentEvent.document_id == document.id)
                .order_by(DocumentEvent.at)
            )
        ),
    )


async def _lines_of(uow: UnitOfWork, document_id: uuid.UUID) -> list[DocumentLine]:
    assert uow.tenant_id is not None
    return list(
        await uow.session.scalars(
            select(DocumentLine)
            .where(DocumentLine.tenant_id == uow.tenant_id)
            .where(DocumentLine.document_id == document_id)
            .order_by(DocumentLine.position)
        )
    )


async def _contact_for(uow: UnitOfWork, actor: Principal, data: DocumentIn) -> Contact:
    """The chosen customer, or the one typed in (an existing phone number is reused)."""
    if data.contact_id is not None:
        contact = await uow.session.scalar(
            select(Contact)
            .where(Contact.tenant_id == actor.tenant_id)
            .where(Contact.id == data.contact_id)
        )
        if contact is None:
            raise InvalidInput("That customer does not exist.", field="contact_id")
        return contact
    if data.new_contact is None:
        raise InvalidInput("Choose a customer, or add a new one.", field="contact_id")
    new = data.new_contact
    return await conversations.contact_for_phone(uow, new.phone, name=new.name, email=new.email)


def price_lines(
    lines: list[LineIn], *, mode: money.PriceMode, rounding: money.Rounding, rate: Decimal
) -> money.Totals:
    """Price the lines; a bad figure is reported against its line (e.g. `lines.2.quantity`)."""
    inputs = []
    for position, line in enumerate(lines):
        try:
            inputs.append(
                money.LineInput(
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    discount_kind=line.discount_kind,
                    discount_value=line.discount_value,
                    vat=line.vat,
                )
            )
        except money.MoneyInputError as error:
            raise InvalidInput(
                f"Line {position + 1}: {error.message}", field=f"lines.{position}.{error.field}"
            ) from error
    return money.compute(inputs, mode=mode, rounding=rounding, vat_rate=rate)


async def replace_lines(
    uow: UnitOfWork, document: Document, lines: list[LineIn], totals: money.Totals
) -> None:
    """Store the lines as entered and priced, and the document's totals from the same pricing."""
    await uow.session.execute(
        delete(DocumentLine)
        .where(DocumentLine.tenant_id == document.tenant_id)
        .where(DocumentLine.document_id == document.id)
    )
    for position, (line, priced) in enumerate(zip(lines, totals.lines, strict=True)):
        uow.session.add(
            DocumentLine(
                tenant_id=document.tenant_id,
                document_id=document.id,
                position=position,
                description=line.description,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=line.unit_price,
                discount_kind=line.discount_kind.value,
                discount_value=line.discount_value,
                vat=line.vat.value,
                discount_cents=priced.discount_cents,
                net_cents=priced.net_cents,
                vat_cents=priced.vat_cents,
                gross_cents=priced.gross_cents,
            )
        )
    document.subtotal_excl_cents = totals.subtotal_excl_cents
    document.vat_cents = totals.vat_cents
    document.total_cents = totals.total_cents
    document.discount_cents = totals.discount_cents


def line_in(line: DocumentLine) -> LineIn:
    return LineIn(
        description=line.description,
        quantity=line.quantity,
        unit=line.unit,
        unit_price=line.unit_price,
        discount_kind=money.DiscountKind(line.discount_kind),
        discount_value=line.discount_value,
        vat=money.VatTreatment(line.vat),
    )


def document_vat_rate_bp(profile: BusinessProfile) -> int:
    """A business that is not VAT registered may not charge VAT: its rate is 0."""
    return profile.default_vat_rate_bp if profile.vat_number else 0


async def _apply(
    uow: UnitOfWork,
    actor: Principal,
    document: Document,
    data: DocumentIn,
    profile: BusinessProfile,
) -> None:
    kind = Kind(document.kind)
    chosen = await document_settings.load(uow)
    contact = await _contact_for(uow, actor, data)
    today = business_today(profile.timezone, uow.now)
    issue_date = data.issue_date or today
    totals = price_lines(
        data.lines,
        mode=data.price_mode,
        rounding=money.Rounding(document.rounding),
        rate=Decimal(document.vat_rate_bp) / 100,
    )
    document.contact_id = contact.id
    document.recipient_name = data.recipient_name.strip() or display_name(
        contact.name, contact.profile_name
    )
    if not document.recipient_name:
        raise InvalidInput("Give the customer's name as it should appear.", field="recipient_name")
    document.recipient_vat_number = data.recipient_vat_number
    document.billing_address = data.billing_address.strip()
    document.service_address = data.service_address.strip()
    document.job_description = data.job_description.strip()
    document.price_mode = data.price_mode.value
    document.issue_date = issue_date
    document.notes = data.notes.strip()
    document.deposit_percent = data.deposit_percent if kind is Kind.QUOTE else Decimal(0)
    if kind is Kind.QUOTE:
        document.valid_until = data.valid_until or issue_date + timedelta(
            days=chosen.quote_validity_days
        )
        _not_before(document.valid_until, issue_date, "valid_until", "valid-until date")
        default_terms = profile.default_quote_terms
    else:
        document.due_date = data.due_date or issue_date + timedelta(days=chosen.payment_terms_days)
        _not_before(document.due_date, issue_date, "due_date", "due date")
        default_terms = profile.default_invoice_terms
    document.terms = (default_terms if data.terms is None else data.terms).strip()
    document.updated_at = uow.now
    uow.session.add(document)  # a new draft joins the session only once it is complete
    await uow.session.flush()
    await replace_lines(uow, document, data.lines, totals)


def _not_before(value: date, issued: date, field: str, label: str) -> None:
    if value < issued:
        raise InvalidInput(f"The {label} can't be before the issue date.", field=field)


async def create_draft(uow: UnitOfWork, actor: Principal, kind: Kind, data: DocumentIn) -> Document:
    """A new draft quote or invoice (credit notes come from an invoice: credit_notes.py)."""
    if kind is Kind.CREDIT_NOTE:
        raise InvalidInput("A credit note is raised from the invoice it corrects.")
    profile = await business.get_profile(uow, actor)
    chosen = await document_settings.load(uow)
    document = Document(
        tenant_id=actor.tenant_id,
        id=uuid.uuid4(),
        kind=kind.value,
        status=DocumentStatus.DRAFT.value,
        number=None,
        rounding=chosen.rounding.value,
        vat_rate_bp=document_vat_rate_bp(profile),
        created_by=actor.user_id,
        created_at=uow.now,
        paid_cents=0,
        credited_cents=0,
        invoice_part="",
        reason="",
        pdf_key="",
        pdf_sha256="",
    )
    await _apply(uow, actor, document, data, profile)
    add_event(uow, document, "created", actor_id=actor.user_id)
    await uow.session.flush()
    if data.lead_id is not None and kind is Kind.QUOTE:
        await leads.mark_quoted(uow, actor, data.lead_id, document)
    return document


async def update_draft(
    uow: UnitOfWork, actor: Principal, document_id: uuid.UUID, kind: Kind, data: DocumentIn
) -> Document:
    document = await get_document(uow, document_id, kind, for_update=True)
    if document.status != DocumentStatus.DRAFT:
        raise Conflict(NEVER_EDITED.format(noun=NOUNS[kind]))
    profile = await business.get_profile(uow, actor)
    await _apply(uow, actor, document, data, profile)
    await uow.session.flush()
    return document


async def duplicate(
    uow: UnitOfWork, actor: Principal, document_id: uuid.UUID, kind: Kind
) -> Document:
    """A new draft with the same customer and lines, dated today."""
    loaded = await load(uow, document_id, kind)
    source = loaded.document
    data = draft_input(source, [line_in(line) for line in loaded.lines], kind)
    return await create_draft(uow, actor, kind, data)


def draft_input(source: Document, lines: list[LineIn], kind: Kind) -> DocumentIn:
    """What a new draft of `kind` takes from `source`: the customer, the job and the notes.

    Dates are never copied (the new draft is dated today, with its own validity or due date).
    Terms and the deposit belong to a kind: a quote's "valid for 14 days" on a tax invoice
    would be a wrong legal document, so a draft of another kind gets the business's defaults.
    """
    same_kind = Kind(source.kind) is kind
    return DocumentIn(
        contact_id=source.contact_id,
        recipient_name=source.recipient_name,
        recipient_vat_number=source.recipient_vat_number,
        billing_address=source.billing_address,
        service_address=source.service_address,
        job_description=source.job_description,
        price_mode=money.PriceMode(source.price_mode),
        terms=source.terms if same_kind else None,
        notes=source.notes,
        deposit_percent=source.deposit_percent if same_kind else Decimal(0),
        lines=lines,
    )


async def delete_draft(
    uow: UnitOfWork, actor: Principal, document_id: uuid.UUID, kind: Kind
) -> None:
    """Only drafts go: a number, once given, stays in the books."""
    document = await get_document(uow, document_id, kind, for_update=True)
    if document.status != DocumentStatus.DRAFT:
        raise Conflict(
            f"This {NOUNS[kind]} has a number, so it stays. "
            + ("Correct it with a credit note." if kind is Kind.INVOICE else "")
        )
    await uow.session.delete(document)
    # A draft has no number; its kind says what it was (no customer name: see contacts).
    await audit.record(
        uow,
        AuditAction.DOCUMENT_DELETED,
        actor_id=actor.user_id,
        target_kind=kind.value,
        target_id=document.id,
        target_label=f"Draft {NOUNS[kind]}",
    )
    await uow.session.flush()


async def printable(
    uow: UnitOfWork, keyring: Keyring, loaded: Loaded, *, reprint: bool = False
) -> pdf.DocumentData:
    """What the document prints (the PDF and the public page show the same)."""
    document = loaded.document
    profile = await business.profile_of(uow, document.tenant_id)
    original = (
        await get_document(uow, document.source_id)
        if document.kind == Kind.CREDIT_NOTE and document.source_id
        else None
    )
    return document_data(
        document,
        loaded.lines,
        profile,
        banking=business.read_banking_details(profile, keyring),
        original=original,
        reprint=reprint,
    )


async def render_pdf(
    uow: UnitOfWork, keyring: Keyring, loaded: Loaded, *, reprint: bool = False
) -> bytes:
    data = await printable(uow, keyring, loaded, reprint=reprint)
    # Typst releases the GIL: render off the event loop so other requests carry on.
    return await anyio.to_thread.run_sync(pdf.render, data)


async def finalise(
    uow: UnitOfWork,
    actor: Principal,
    document_id: uuid.UUID,
    kind: Kind,
    *,
    keyring: Keyring,
    storage: Storage,
) -> Document:
    """Number the draft, render and store its PDF; idempotent for a finalised document."""
    document, _rendered = await finalise_with_pdf(
        uow, actor, document_id, kind, keyring=keyring, storage=storage
    )
    return document


async def finalise_with_pdf(
    uow: UnitOfWork,
    actor: Principal,
    document_id: uuid.UUID,
    kind: Kind,
    *,
    keyring: Keyring,
    storage: Storage,
) -> tuple[Document, bytes | None]:
    """`finalise`, with the PDF it rendered (None when the document was finalised before), so
    a caller sending it does not read back what it just wrote."""
    document = await get_document(uow, document_id, kind, for_update=True)
    if document.status != DocumentStatus.DRAFT:
        return document, None
    chosen = await document_settings.load(uow)
    document.number = await numbering.assign_number(
        uow, actor.tenant_id, kind, chosen.patterns[kind], document.issue_date
    )
    document.status = (
        DocumentStatus.ISSUED.value if kind is Kind.CREDIT_NOTE else DocumentStatus.FINALISED.value
    )
    document.finalised_at = uow.now
    document.updated_at = uow.now
    await uow.session.flush()
    loaded = await load(uow, document.id, kind)
    rendered = await render_pdf(uow, keyring, loaded)
    document.pdf_sha256 = pdf.content_hash(rendered)
    await files.put(
        uow,
        rendered,
        content_type="application/pdf",
        retention=Retention.LEGAL_HOLD,
        document_id=document.id,
        hold_until=files.keep_until(document.issue_date),
    )
    add_event(uow, document, "finalised", actor_id=actor.user_id, number=document.number)
    await uow.session.flush()
    return document, rendered


def pdf_filename(document: Document) -> str:
    title = {"quote": "Quote", "invoice": "Invoice", "credit_note": "Credit-note"}[document.kind]
    return f"{title}-{document.number or 'draft'}.pdf".replace("/", "-")
