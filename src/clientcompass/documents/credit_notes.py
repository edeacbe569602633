"""Credit notes: how an issued invoice is corrected (VAT Act s21), since it is never edited.

A credit note names the invoice and the reason, is numbered and issued at once, and lowers
what the invoice asks for. Crediting the whole invoice voids it.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from clientcompass.auth.permissions import Permission
from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.documents import money
from clientcompass.documents.money import format_zar
from clientcompass.documents.schemas import CreditNoteIn
from clientcompass.documents.service import (
    Kind,
    add_event,
    finalise,
    get_document,
    line_in,
    load,
    price_lines,
    replace_lines,
)
from clientcompass.documents.status import business_today, paid_status
from clientcompass.errors import Conflict, InvalidInput
from clientcompass.models import Document, DocumentStatus
from clientcompass.storage import Storage


async def issue_credit_note(
    uow: UnitOfWork,
    actor: Principal,
    invoice_id: uuid.UUID,
    data: CreditNoteIn,
    *,
    keyring: Keyring,
    storage: Storage,
) -> Document:
    """Credit all of the invoice (no lines given) or part of it, and issue the note."""
    actor.require(Permission.CORRECT_INVOICES)
    invoice = await get_document(uow, invoice_id, Kind.INVOICE, for_update=True)
    if invoice.status == DocumentStatus.DRAFT.value:
        raise Conflict("A draft invoice can still be edited or deleted; it needs no credit note.")
    if invoice.status == DocumentStatus.VOIDED.value:
        raise Conflict("This invoice has been credited in full already.")
    loaded = await load(uow, invoice.id, Kind.INVOICE)
    profile = await business.profile_of(uow, invoice.tenant_id)
    lines = data.lines if data.lines else [line_in(line) for line in loaded.lines]
    totals = price_lines(
        lines,
        mode=money.PriceMode(invoice.price_mode),
        rounding=money.Rounding(invoice.rounding),
        rate=Decimal(invoice.vat_rate_bp) / 100,
    )
    creditable = invoice.total_cents - invoice.credited_cents
    if totals.total_cents > creditable:
        raise InvalidInput(
            f"A credit note can be for at most {format_zar(creditable)}, what is left of "
            f"invoice {invoice.number}.",
            field="lines",
        )
    note = Document(
        tenant_id=invoice.tenant_id,
        id=uuid.uuid4(),
        kind=Kind.CREDIT_NOTE.value,
        status=DocumentStatus.DRAFT.value,
        number=None,
        contact_id=invoice.contact_id,
        recipient_name=invoice.recipient_name,
        recipient_vat_number=invoice.recipient_vat_number,
        billing_address=invoice.billing_address,
        service_address=invoice.service_address,
        job_description=invoice.job_description,
        price_mode=invoice.price_mode,
        rounding=invoice.rounding,
        vat_rate_bp=invoice.vat_rate_bp,
        issue_date=business_today(profile.timezone, uow.now),
        terms="",
        notes="",
        deposit_percent=Decimal(0),
        paid_cents=0,
        credited_cents=0,
        source_id=invoice.id,
        invoice_part="",
        reason=data.reason.strip(),
        pdf_key="",
        pdf_sha256="",
        created_by=actor.user_id,
        created_at=uow.now,
    )
    uow.session.add(note)
    await uow.session.flush()
    await replace_lines(uow, note, lines, totals)
    await uow.session.flush()
    await finalise(uow, actor, note.id, Kind.CREDIT_NOTE, keyring=keyring, storage=storage)
    invoice.credited_cents += note.total_cents
    if invoice.credited_cents >= invoice.total_cents:
        invoice.status = DocumentStatus.VOIDED.value
    else:
        invoice.status = paid_status(invoice)
    invoice.updated_at = uow.now
    add_event(
        uow,
        invoice,
        "credited",
        actor_id=actor.user_id,
        credit_note=note.number,
        amount_cents=note.total_cents,
    )
    await uow.session.flush()
    return note
