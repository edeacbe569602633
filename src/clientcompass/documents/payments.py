"""Payments against an issued invoice: partial payments leave a balance; the status follows."""

from __future__ import annotations

import uuid

from clientcompass.auth.permissions import Permission
from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.db import UnitOfWork
from clientcompass.documents.money import format_zar, to_cents
from clientcompass.documents.schemas import PaymentIn
from clientcompass.documents.service import Kind, add_event, get_document
from clientcompass.documents.status import balance_cents, business_today, paid_status
from clientcompass.errors import Conflict, InvalidInput
from clientcompass.models import DocumentStatus, Payment
from clientcompass.realtime.bus import Event


async def record_payment(
    uow: UnitOfWork, actor: Principal, invoice_id: uuid.UUID, data: PaymentIn
) -> Payment:
    """Record money received. More than the balance is refused: an overpayment is a refund
    conversation, not something to store silently."""
    actor.require(Permission.RECORD_PAYMENTS)
    invoice = await get_document(uow, invoice_id, Kind.INVOICE, for_update=True)
    if invoice.status == DocumentStatus.DRAFT.value:
        raise Conflict("Finalise the invoice before recording a payment against it.")
    if invoice.status == DocumentStatus.VOIDED.value:
        raise Conflict("This invoice was cancelled by a credit note; it takes no payments.")
    amount = to_cents(data.amount)
    owed = balance_cents(invoice)
    if owed == 0:
        raise Conflict("This invoice is paid in full already.")
    if amount > owed:
        raise InvalidInput(
            f"That is more than the balance due ({format_zar(owed)}).", field="amount"
        )
    profile = await business.get_profile(uow, actor)
    paid_on = data.paid_on or business_today(profile.timezone, uow.now)
    if paid_on > business_today(profile.timezone, uow.now):
        raise InvalidInput("A payment can't be dated in the future.", field="paid_on")
    payment = Payment(
        tenant_id=actor.tenant_id,
        id=uuid.uuid4(),
        document_id=invoice.id,
        method=data.method.value,
        paid_on=paid_on,
        amount_cents=amount,
        reference=data.reference.strip(),
        recorded_by=actor.user_id,
        created_at=uow.now,
    )
    uow.session.add(payment)
    invoice.paid_cents += amount
    invoice.status = paid_status(invoice)
    invoice.updated_at = uow.now
    add_event(
        uow,
        invoice,
        "payment",
        actor_id=actor.user_id,
        amount_cents=amount,
        method=data.method.value,
    )
    await uow.session.flush()
    if invoice.status == DocumentStatus.PAID.value:
        uow.announce(
            Event.DOCUMENT_PAID,
            document_id=str(invoice.id),
            number=invoice.number,
            actor_id=str(actor.user_id),
        )
    return payment
