"""What the documents API takes and gives. Amounts go out as cents and as display text.

Every amount of money that comes in is a `MoneyInput`, so pages and the API read
"R1 150,00" the same way and refuse what they can't read with the same plain message.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from clientcompass.documents.money import (
    AMOUNT_PLACES,
    DiscountKind,
    PriceMode,
    VatTreatment,
    format_zar,
    from_cents,
    parse_amount,
    to_cents,
)
from clientcompass.models import PaymentMethod
from clientcompass.phones import normalise_za_phone

MoneyInput = Annotated[
    Decimal,
    BeforeValidator(parse_amount),
    Field(
        description="Rand: a number, or text as people type it ('R1 150,00', '1150.00').",
        examples=["1 150,00"],
    ),
]
"""Rand as typed ('R1 150,00', '1150.00', …) or as a JSON number; see `parse_amount`."""

MAX_PAYMENT_CENTS = 10**14 - 1  # the 14 digits a payment always allowed: R 999 999 999 999,99


class LineIn(BaseModel):
    description: str = Field(min_length=1, max_length=2000)
    quantity: Decimal = Decimal(1)
    unit: str = Field("", max_length=20)
    unit_price: MoneyInput
    discount_kind: DiscountKind = DiscountKind.PERCENT
    discount_value: Decimal = Decimal(0)
    vat: VatTreatment = VatTreatment.STANDARD

    @field_validator("description", "unit", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("discount_value", mode="before")
    @classmethod
    def _discount(cls, value: object, info: ValidationInfo) -> object:
        """A discount in rand is money; a percentage is not."""
        if info.data.get("discount_kind") is DiscountKind.AMOUNT:
            return parse_amount(value)
        return value


class NewContactIn(BaseModel):
    """A customer created with the document, as the quote form's "new customer" does."""

    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(max_length=30)
    email: str = Field("", max_length=254)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_za_phone(value)


class DocumentIn(BaseModel):
    """A draft quote or invoice. Omitted dates and terms come from the business's defaults."""

    contact_id: uuid.UUID | None = None
    new_contact: NewContactIn | None = None
    recipient_name: str = Field("", max_length=200)
    recipient_vat_number: str = Field("", max_length=10)
    billing_address: str = Field("", max_length=1000)
    service_address: str = Field("", max_length=1000)
    job_description: str = Field("", max_length=2000)
    price_mode: PriceMode = PriceMode.EXCLUSIVE
    issue_date: date | None = None
    valid_until: date | None = None
    due_date: date | None = None
    terms: str | None = Field(None, max_length=5000)
    notes: str = Field("", max_length=5000)
    deposit_percent: Decimal = Field(Decimal(0), ge=0, le=100)
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    lead_id: uuid.UUID | None = Field(
        None, description="A new quote made from this lead: it moves the lead to `quoted`."
    )

    @field_validator("recipient_vat_number")
    @classmethod
    def _vat_number(cls, value: str) -> str:
        value = value.strip().replace(" ", "")
        if value and not (len(value) == 10 and value.isdigit() and value.startswith("4")):
            raise ValueError("A South African VAT number is 10 digits starting with 4.")
        return value


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    discount_kind: str
    discount_value: Decimal
    vat: str
    discount_cents: int
    net_cents: int
    vat_cents: int
    gross_cents: int


class PaymentIn(BaseModel):
    amount: MoneyInput
    paid_on: date | None = None
    method: PaymentMethod = PaymentMethod.EFT
    reference: str = Field("", max_length=100)

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError("A payment must be more than zero.")
        if value > from_cents(MAX_PAYMENT_CENTS):
            raise ValueError(f"A payment can be at most {format_zar(MAX_PAYMENT_CENTS)}.")
        if from_cents(to_cents(value)) != value:
            raise ValueError(f"A payment is in rand and cents: at most {AMOUNT_PLACES} decimals.")
        return value


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    method: str
    paid_on: date
    amount_cents: int
    reference: str
    created_at: datetime


class CreditNoteIn(BaseModel):
    """A correction to an issued invoice; no lines means credit the whole invoice."""

    reason: str = Field(min_length=3, max_length=1000)
    lines: list[LineIn] | None = Field(None, max_length=200)


class ConvertIn(BaseModel):
    """Quote → invoice: one invoice for the whole quote, or a deposit and a final invoice."""

    split_deposit: bool = False


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    detail: dict[str, object]
    at: datetime


class DocumentOut(BaseModel):
    id: uuid.UUID
    kind: str
    status: str
    number: str | None
    title: str
    contact_id: uuid.UUID
    recipient_name: str
    recipient_vat_number: str
    billing_address: str
    service_address: str
    job_description: str
    price_mode: str
    rounding: str
    vat_rate: Decimal
    issue_date: date
    valid_until: date | None
    due_date: date | None
    terms: str
    notes: str
    deposit_percent: Decimal
    subtotal_excl_cents: int
    vat_cents: int
    total_cents: int
    discount_cents: int
    deposit_cents: int
    paid_cents: int
    credited_cents: int
    balance_cents: int
    total: str
    balance: str
    source_id: uuid.UUID | None
    invoice_part: str
    reason: str
    pdf_sha256: str
    finalised_at: datetime | None
    sent_at: datetime | None
    viewed_at: datetime | None
    responded_at: datetime | None
    created_at: datetime
    lines: list[LineOut] = []
    payments: list[PaymentOut] = []
    events: list[EventOut] = []


class DocumentSummary(BaseModel):
    id: uuid.UUID
    kind: str
    status: str
    number: str | None
    recipient_name: str
    job_description: str
    contact_id: uuid.UUID
    issue_date: date
    due_date: date | None
    valid_until: date | None
    total_cents: int
    balance_cents: int
    total: str
    balance: str


class ListTotals(BaseModel):
    outstanding_cents: int
    overdue_cents: int
    paid_this_month_cents: int
    outstanding: str
    overdue: str
    paid_this_month: str


class DocumentsPage(BaseModel):
    items: list[DocumentSummary]
    totals: ListTotals
    next_cursor: str | None
