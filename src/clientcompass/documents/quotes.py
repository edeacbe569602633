"""A quote's life after it is finalised: sent, viewed, accepted or declined, invoiced.

Accepting and declining are idempotent (a customer may tap the button twice, or tap it and
open the link): the first answer stands and repeating it changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.db import UnitOfWork
from clientcompass.documents import money
from clientcompass.documents.render import display_date
from clientcompass.documents.schemas import LineIn
from clientcompass.documents.service import (
    Kind,
    add_event,
    create_draft,
    draft_input,
    get_document,
    line_in,
    load,
)
from clientcompass.documents.status import (
    AWAITING_ANSWER,
    EXPIRED,
    business_today,
    effective_status,
)
from clientcompass.errors import Conflict
from clientcompass.models import Document, DocumentLine, DocumentStatus
from clientcompass.realtime.bus import Event


class Answer(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"


@dataclass(frozen=True)
class Answered:
    document: Document
    changed: bool  # False when this answer was already given


async def answer(
    uow: UnitOfWork,
    quote_id: uuid.UUID,
    choice: Answer,
    *,
    via: str,
    actor_id: uuid.UUID | None = None,
) -> Answered:
    """Record the customer's answer (via "whatsapp", "link" or "team")."""
    quote = await get_document(uow, quote_id, Kind.QUOTE, for_update=True)
    wanted = DocumentStatus.ACCEPTED if choice is Answer.ACCEPT else DocumentStatus.DECLINED
    if quote.status == wanted.value:
        return Answered(quote, changed=False)
    profile = await business.profile_of(uow, quote.tenant_id)
    status = effective_status(quote, business_today(profile.timezone, uow.now))
    if status == EXPIRED:
        raise Conflict(
            f"This quote expired on {display_date(quote.valid_until)}. "
            "Ask the business for a new one."
        )
    if quote.status == DocumentStatus.DRAFT.value:
        raise Conflict("Finalise the quote before it can be answered.")
    if quote.status not in AWAITING_ANSWER:
        done = "accepted" if quote.status != DocumentStatus.DECLINED.value else "declined"
        raise Conflict(f"This quote was {done} already.")
    quote.status = wanted.value
    quote.responded_at = uow.now
    quote.updated_at = uow.now
    add_event(uow, quote, wanted.value, actor_id=actor_id, via=via)
    await uow.session.flush()
    # Every path announces (a tap, the link, or the team recording it): the notification,
    # the lead's "won" and the integrations' quote.accepted follow from this one event.
    uow.announce(
        Event.DOCUMENT_ACCEPTED if choice is Answer.ACCEPT else Event.DOCUMENT_DECLINED,
        document_id=str(quote.id),
        number=quote.number,
        via=via,
        actor_id=str(actor_id) if actor_id else "",
    )
    return Answered(quote, changed=True)


async def mark_viewed(uow: UnitOfWork, document_id: uuid.UUID) -> Document:
    """The customer opened the public link: recorded once, and a sent document becomes viewed."""
    document = await get_document(uow, document_id, for_update=True)
    if document.viewed_at is None:
        document.viewed_at = uow.now
        add_event(uow, document, "viewed")
    if document.status in (DocumentStatus.FINALISED.value, DocumentStatus.SENT.value):
        document.status = DocumentStatus.VIEWED.value
    await uow.session.flush()
    return document


async def mark_sent(
    uow: UnitOfWork, document: Document, *, actor_id: uuid.UUID | None, message_id: uuid.UUID
) -> None:
    """Handed to WhatsApp (the message's own ticks tell delivery); later statuses stay."""
    if document.status == DocumentStatus.FINALISED.value:
        document.status = DocumentStatus.SENT.value
    document.sent_at = uow.now
    add_event(uow, document, "sent", actor_id=actor_id, message_id=str(message_id))
    await uow.session.flush()


def _treatment_amounts(
    lines: list[DocumentLine], mode: money.PriceMode
) -> list[tuple[money.VatTreatment, int]]:
    """Each VAT treatment's amount on the quote, in its price basis (gross when inclusive)."""
    amounts = []
    for treatment in money.VatTreatment:
        chosen = [line for line in lines if line.vat == treatment.value]
        if chosen:
            amounts.append(
                (
                    treatment,
                    sum(
                        line.gross_cents if mode is money.PriceMode.INCLUSIVE else line.net_cents
                        for line in chosen
                    ),
                )
            )
    return amounts


def _part_line(label: str, treatment: money.VatTreatment, cents: int, mixed: bool) -> LineIn:
    suffix = f" ({treatment.value.replace('_', '-')})" if mixed else ""
    return LineIn(
        description=f"{label}{suffix}",
        quantity=Decimal(1),
        unit_price=money.from_cents(cents),
        vat=treatment,
    )


def deposit_and_final(
    quote: Document, lines: list[DocumentLine]
) -> tuple[list[LineIn], list[LineIn]]:
    """A deposit invoice and a final invoice that together charge exactly the quote: one line
    per VAT treatment each, so VAT is charged as the quote charged it."""
    amounts = _treatment_amounts(lines, money.PriceMode(quote.price_mode))
    mixed = len(amounts) > 1
    percent = f"{quote.deposit_percent.normalize():f}%"
    deposit, final = [], []
    for treatment, cents in amounts:
        share = money.deposit_cents(cents, quote.deposit_percent)
        deposit.append(
            _part_line(f"Deposit ({percent}) on quote {quote.number}", treatment, share, mixed)
        )
        final.append(
            _part_line(f"Balance on quote {quote.number}", treatment, cents - share, mixed)
        )
    return deposit, final


async def convert(
    uow: UnitOfWork, actor: Principal, quote_id: uuid.UUID, *, split_deposit: bool
) -> list[Document]:
    """Draft invoice(s) from the quote: one for the whole quote, or a deposit and a final
    invoice that together charge exactly the quote's lines."""
    quote = await get_document(uow, quote_id, Kind.QUOTE, for_update=True)
    if quote.status == DocumentStatus.INVOICED.value:
        raise Conflict("This quote has been turned into an invoice already.")
    if quote.status in (DocumentStatus.DRAFT.value, DocumentStatus.DECLINED.value):
        raise Conflict("Only a finalised quote that was not declined can become an invoice.")
    loaded = await load(uow, quote.id, Kind.QUOTE)
    if not split_deposit or not quote.deposit_percent:
        parts = [("", [line_in(line) for line in loaded.lines])]
    else:
        deposit, final = deposit_and_final(quote, loaded.lines)
        parts = [("deposit", deposit), ("final", final)]
    invoices = []
    for part, lines in parts:
        invoice = await create_draft(
            uow, actor, Kind.INVOICE, draft_input(quote, lines, Kind.INVOICE)
        )
        invoice.source_id = quote.id
        invoice.invoice_part = part
        invoices.append(invoice)
    quote.status = DocumentStatus.INVOICED.value
    quote.updated_at = uow.now
    add_event(
        uow, quote, "invoiced", actor_id=actor.user_id, invoices=[str(i.id) for i in invoices]
    )
    await uow.session.flush()
    return invoices
