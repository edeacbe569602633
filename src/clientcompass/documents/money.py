"""Money on quotes, invoices and credit notes: line amounts, VAT, totals, deposits, formatting.

Pure: no database, no I/O. Amounts are stored and printed as integer cents, and each one is
computed from the exact inputs (`Decimal` in, exact rationals inside) and rounded once.

Why these rules:

- **Rounding (VAT Act s66).** Amounts are rounded to the nearest cent, half a cent up
  (`ROUND_HALF_UP`). A half rounds away from zero, so `to_cents(-x) == -to_cents(x)` and a
  credit note for a whole invoice mirrors it to the cent.
- **Tax fraction (VAT Act s20).** The VAT inside a VAT-inclusive amount is
  `rate / (100 + rate)` of it: 15/115 at the standard 15 %.
- **One rounding method per business** (`Rounding`, default per line). Per line, each
  standard-rated line's VAT is rounded on its own and the document VAT is their sum. Per
  document, the VAT is rounded once on the sum of the standard-rated lines and allocated back
  to them by largest remainder, so every line still reads net + VAT = gross.
- **The stored amounts are the printed ones, and they reconcile to the cent**: the line nets
  add up to the subtotal excl. VAT, the line VATs to the VAT, the line grosses to the total,
  and subtotal + VAT = total, whichever mode and rounding method.

How one line is priced, in the document's price basis (`PriceMode`; a discount amount is in
the same basis as the prices):

1. `undiscounted = quantity * unit price`, rounded to the cent.
2. The discounted amount is the exact `quantity * unit price * (1 - percent/100)` (or minus the
   discount amount) rounded once; the discount shown is `undiscounted - discounted`. It never
   rounds twice and never goes below zero.
3. VAT-exclusive prices: the discounted amount is the line's net, VAT = net * rate, and
   gross = net + VAT. VAT-inclusive prices: it is the line's gross (what the customer pays),
   VAT = gross * rate/(100 + rate), and net = gross - VAT.
4. Zero-rated and exempt lines carry no VAT in either basis: net = gross.

Credit notes price their lines the same way and present the amounts negated.

Amounts people type are read by one parser, `parse_amount`, for every money field of every
page and of the JSON API (see its docstring for the forms it takes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TypeAlias

from babel.numbers import format_currency, format_decimal

from clientcompass.errors import InvalidInput

Cents: TypeAlias = int
"""An amount in South African cents. Negative only on credit notes."""

DEFAULT_VAT_RATE = Decimal("15")
MAX_QUANTITY = Decimal(1_000_000)
MAX_UNIT_PRICE = Decimal(1_000_000_000)
# A document's amounts are stored as bigint cents; 200 lines at the largest quantity and price
# would pass 2**63. The bound is the largest payment (schemas.MAX_PAYMENT_CENTS), R 1 trillion
# less a cent, so every document can be paid and every sum of amounts stays far from 2**63.
MAX_DOCUMENT_CENTS = 10**14 - 1
QUANTITY_PLACES = 3
UNIT_PRICE_PLACES = 4
PERCENT_PLACES = 2
AMOUNT_PLACES = 2

NBSP = "\u00a0"
_WHITESPACE = re.compile(r"\s")

AMOUNT_EXAMPLE = "1 150,00"
TYPE_AN_AMOUNT = f"Type an amount like {AMOUNT_EXAMPLE}."
_MAX_AMOUNT_TEXT = 40
_SPACES = re.compile(r"\s+")
_CURRENCY = re.compile(r"(?:zar|r) ?", re.IGNORECASE)
_AMOUNT_CHARACTERS = re.compile(r"[0-9 ,.]+")
_DIGITS = re.compile(r"[0-9]+")
_THOUSANDS_OR_DECIMAL = re.compile(r"[1-9][0-9]{0,2},[0-9]{3}")
_GROUPED = re.compile(r"[0-9]{1,3}([ ,.])[0-9]{3}(?:\1[0-9]{3})*")


class MoneyInputError(InvalidInput, ValueError):
    """An amount, quantity or rate a person entered that cannot be priced; the message says why."""


class VatTreatment(StrEnum):
    STANDARD = "standard"
    ZERO_RATED = "zero_rated"
    EXEMPT = "exempt"


class PriceMode(StrEnum):
    EXCLUSIVE = "exclusive"
    INCLUSIVE = "inclusive"


class Rounding(StrEnum):
    PER_LINE = "per_line"
    PER_DOCUMENT = "per_document"


class DiscountKind(StrEnum):
    PERCENT = "percent"
    AMOUNT = "amount"


DEFAULT_ROUNDING = Rounding.PER_LINE


def to_cents(amount: Decimal) -> Cents:
    """Rands to cents, half a cent away from zero (VAT Act s66)."""
    if not amount.is_finite():
        raise MoneyInputError("An amount must be a number.")
    return _half_up(Fraction(amount) * 100)


def from_cents(cents: Cents) -> Decimal:
    """Cents to rands with exactly two decimals, e.g. 12345 → Decimal('123.45')."""
    return Decimal(f"{cents}e-2")


def parse_amount(value: object) -> Decimal:
    """Rand as South Africans type them, for every money field: 'R1 150,00', '1150.00',
    '1 150', 'R 1,150.00', '1150,5', 'R1150', also with the no-break spaces `format_zar`
    prints. Numbers (from JSON) are taken as they are.

    The last comma or point is the decimal sign; spaces, or the other mark, group thousands
    in threes. A lone comma before exactly three digits ('1,150') is refused: written the
    English way it is R1 150, the South African way R1,15, and a guess records wrong money.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise MoneyInputError(TYPE_AN_AMOUNT)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyInputError(TYPE_AN_AMOUNT)
        return value
    if len(value) > _MAX_AMOUNT_TEXT:
        raise MoneyInputError(TYPE_AN_AMOUNT)
    text = _SPACES.sub(" ", value).strip()
    negative = text.startswith("-")
    text = text.removeprefix("-").lstrip()
    currency = _CURRENCY.match(text)
    if currency:
        text = text[currency.end() :]
    if not negative and text.startswith("-"):
        negative, text = True, text[1:].lstrip()
    whole, fraction = _whole_and_fraction(text)
    number = Decimal(f"{whole or 0}.{fraction}" if fraction else whole)
    return -number if negative else number


def _whole_and_fraction(text: str) -> tuple[str, str]:
    """The digits before and after the decimal sign, with the thousands grouping checked."""
    if not _AMOUNT_CHARACTERS.fullmatch(text):
        raise MoneyInputError(TYPE_AN_AMOUNT)
    if "," in text and "." in text:
        decimal = max(",.", key=text.rindex)
    elif text.count(",") == 1 and "." not in text:
        if _THOUSANDS_OR_DECIMAL.fullmatch(text):
            raise MoneyInputError(
                f"Is the comma in {text} for thousands or for cents? {TYPE_AN_AMOUNT}"
            )
        decimal = ","
    elif text.count(".") == 1 and "," not in text:
        decimal = "."
    else:
        decimal = ""
    whole, fraction = text.rsplit(decimal, 1) if decimal else (text, "")
    if decimal and not _DIGITS.fullmatch(fraction):
        raise MoneyInputError(TYPE_AN_AMOUNT)
    if whole and not (_DIGITS.fullmatch(whole) or _GROUPED.fullmatch(whole)):
        raise MoneyInputError(TYPE_AN_AMOUNT)
    if not (whole or fraction):
        raise MoneyInputError(TYPE_AN_AMOUNT)
    return re.sub("[^0-9]", "", whole), fraction


@dataclass(frozen=True, slots=True, kw_only=True)
class LineInput:
    """The money on one line, as entered: validated on creation, so a priced line always exists.

    Description and unit are the document's business, not money's. An amount discount is
    refused, not silently capped, when it is more than the line: a capped discount would print
    a different figure from the one the person typed.
    """

    quantity: Decimal
    unit_price: Decimal
    discount_kind: DiscountKind = DiscountKind.PERCENT
    discount_value: Decimal = Decimal(0)
    vat: VatTreatment = VatTreatment.STANDARD

    def __post_init__(self) -> None:
        quantity = _finite(self.quantity, "quantity", "Quantity")
        if quantity <= 0:
            raise MoneyInputError("Quantity must be more than 0.", field="quantity")
        if quantity > MAX_QUANTITY:
            raise MoneyInputError("Quantity can be at most 1 000 000.", field="quantity")
        if not _has_at_most_places(quantity, QUANTITY_PLACES):
            raise MoneyInputError("Quantity can have at most 3 decimals.", field="quantity")

        price = _finite(self.unit_price, "unit_price", "Unit price")
        if price < 0:
            raise MoneyInputError("Unit price can't be negative.", field="unit_price")
        if price > MAX_UNIT_PRICE:
            raise MoneyInputError(
                f"Unit price can be at most {format_zar(to_cents(MAX_UNIT_PRICE))}.",
                field="unit_price",
            )
        if not _has_at_most_places(price, UNIT_PRICE_PLACES):
            raise MoneyInputError("Unit price can have at most 4 decimals.", field="unit_price")

        if self.discount_kind is DiscountKind.PERCENT:
            _percent(self.discount_value, "discount_value", "A discount percentage")
            return
        discount = _finite(self.discount_value, "discount_value", "The discount")
        if discount < 0:
            raise MoneyInputError("A discount can't be negative.", field="discount_value")
        if discount > MAX_QUANTITY * MAX_UNIT_PRICE:  # before any exact arithmetic on it
            raise MoneyInputError("The discount is more than the line.", field="discount_value")
        if not _has_at_most_places(discount, AMOUNT_PLACES):
            raise MoneyInputError(
                "A discount amount is in rand and cents: at most 2 decimals.",
                field="discount_value",
            )
        undiscounted = self.undiscounted_cents()
        if to_cents(discount) > undiscounted:
            raise MoneyInputError(
                f"The discount ({format_zar(to_cents(discount))}) is more than the line "
                f"({format_zar(undiscounted)}). Lower it, or give a percentage.",
                field="discount_value",
            )

    def undiscounted_cents(self) -> Cents:
        """Quantity * unit price, in the document's price basis."""
        return _half_up(Fraction(self.quantity) * Fraction(self.unit_price) * 100)

    def discounted_cents(self) -> Cents:
        """The line after its discount, rounded once from the exact amount."""
        exact = Fraction(self.quantity) * Fraction(self.unit_price) * 100
        if self.discount_kind is DiscountKind.PERCENT:
            return _half_up(exact * (100 - Fraction(self.discount_value)) / 100)
        return _half_up(exact) - to_cents(self.discount_value)


@dataclass(frozen=True, slots=True)
class LineTotals:
    """One priced line. `undiscounted_cents` and `discount_cents` are in the document's basis."""

    vat: VatTreatment
    undiscounted_cents: Cents
    discount_cents: Cents
    net_cents: Cents
    vat_cents: Cents
    gross_cents: Cents


@dataclass(frozen=True, slots=True)
class TreatmentTotals:
    """The value excl. VAT, the VAT and the value incl. VAT of one VAT treatment's lines."""

    treatment: VatTreatment
    net_cents: Cents
    vat_cents: Cents
    gross_cents: Cents


@dataclass(frozen=True, slots=True)
class Totals:
    """A priced document: its lines, the totals a SARS tax invoice shows and the breakdown."""

    lines: tuple[LineTotals, ...]
    subtotal_excl_cents: Cents
    vat_cents: Cents
    total_cents: Cents
    discount_cents: Cents
    standard: TreatmentTotals
    zero_rated: TreatmentTotals
    exempt: TreatmentTotals
    vat_rate: Decimal
    mode: PriceMode
    rounding: Rounding


def compute(
    lines: Sequence[LineInput],
    *,
    mode: PriceMode,
    rounding: Rounding,
    vat_rate: Decimal = DEFAULT_VAT_RATE,
) -> Totals:
    """Price a document's lines; the result reconciles to the cent in every mode and rounding."""
    rate = _percent(vat_rate, "vat_rate", "The VAT rate") / 100
    # The VAT-bearing amount is the net when prices exclude VAT, the gross when they include it
    # (tax fraction, s20). Either way it is the line's discounted amount.
    vat_fraction = rate if mode is PriceMode.EXCLUSIVE else rate / (1 + rate)
    amounts = [line.discounted_cents() for line in lines]
    taxable = [
        amount if line.vat is VatTreatment.STANDARD else 0
        for line, amount in zip(lines, amounts, strict=True)
    ]
    if rounding is Rounding.PER_LINE:
        vats = [_half_up(base * vat_fraction) for base in taxable]
    else:
        vats = _allocate(_half_up(sum(taxable) * vat_fraction), taxable)

    priced: list[LineTotals] = []
    for line, amount, vat in zip(lines, amounts, vats, strict=True):
        undiscounted = line.undiscounted_cents()
        net, gross = (
            (amount, amount + vat) if mode is PriceMode.EXCLUSIVE else (amount - vat, amount)
        )
        priced.append(
            LineTotals(
                vat=line.vat,
                undiscounted_cents=undiscounted,
                discount_cents=undiscounted - amount,
                net_cents=net,
                vat_cents=vat,
                gross_cents=gross,
            )
        )

    subtotal = sum(line.net_cents for line in priced)
    vat_total = sum(line.vat_cents for line in priced)
    undiscounted_total = sum(line.undiscounted_cents for line in priced)
    if max(undiscounted_total, subtotal + vat_total) > MAX_DOCUMENT_CENTS:
        raise MoneyInputError(
            f"This document comes to more than {format_zar(MAX_DOCUMENT_CENTS)}, the most one "
            "quote or invoice can hold. Split it into smaller documents.",
            field="lines",
        )
    return Totals(
        lines=tuple(priced),
        subtotal_excl_cents=subtotal,
        vat_cents=vat_total,
        total_cents=subtotal + vat_total,
        discount_cents=sum(line.discount_cents for line in priced),
        standard=_treatment_totals(VatTreatment.STANDARD, priced),
        zero_rated=_treatment_totals(VatTreatment.ZERO_RATED, priced),
        exempt=_treatment_totals(VatTreatment.EXEMPT, priced),
        vat_rate=vat_rate,
        mode=mode,
        rounding=rounding,
    )


def deposit_cents(total_cents: Cents, percent: Decimal) -> Cents:
    """The deposit a quote asks for: `percent` of the total, half a cent up."""
    return _half_up(total_cents * _percent(percent, "deposit_percent", "The deposit") / 100)


def balance_cents(total_cents: Cents, percent: Decimal) -> Cents:
    """What is left to pay after the deposit; deposit + balance is always the total."""
    return total_cents - deposit_cents(total_cents, percent)


def inclusive_from_exclusive(net: Decimal, rate: Decimal = DEFAULT_VAT_RATE) -> Decimal:
    """The VAT-inclusive amount for a VAT-exclusive one, to the cent (half up).

    Round trip at cent precision, for any rate from 0 to 100 %: exclusive → inclusive →
    exclusive gives back the same cents exactly (the inclusive cents are at least as fine a grid
    as the exclusive ones, so no information is lost). Inclusive → exclusive → inclusive can
    be a cent out (R 0,04 → R 0,03 → R 0,03 at 15 %), which is why a document keeps its prices
    in the basis they were entered in and never converts them back and forth.
    """
    return from_cents(_half_up(Fraction(net) * 100 * (1 + _rate(rate))))


def exclusive_from_inclusive(gross: Decimal, rate: Decimal = DEFAULT_VAT_RATE) -> Decimal:
    """The VAT-exclusive amount inside a VAT-inclusive one, to the cent: gross - gross * 15/115."""
    return from_cents(_half_up(Fraction(gross) * 100 / (1 + _rate(rate))))


def format_zar(cents: Cents) -> str:
    """Rand the en_ZA way, one style everywhere: 'R 1 234,56' and '-R 1 234,56'.

    Babel's en_ZA currency format writes 'R1 234,56'. We keep its digits, grouping and decimal
    comma but put a space after the R, and make every space a no-break space (U+00A0) so an
    amount never wraps across lines in a PDF, an email or a WhatsApp message. Always two
    decimals; credit notes get a leading minus.
    """
    text = format_currency(
        from_cents(abs(cents)),
        "ZAR",
        format="¤\u00a0#,##0.00",
        locale="en_ZA",
        currency_digits=False,
    )
    return ("-" if cents < 0 else "") + _WHITESPACE.sub(NBSP, text)


def format_amount(cents: Cents) -> str:
    """An amount as `format_zar` prints it, without the R: '1 150,00' (what a money field
    shows as its example, and `parse_amount` reads back)."""
    return format_zar(cents).replace("R" + NBSP, "", 1)


def format_quantity(quantity: Decimal) -> str:
    """A quantity the en_ZA way with up to 3 decimals and no trailing zeros: '1 234,5', '2'."""
    text = format_decimal(quantity, format="#,##0.###", locale="en_ZA")
    return _WHITESPACE.sub(NBSP, text)


def _half_up(value: Fraction) -> int:
    """The nearest integer, a half away from zero (VAT Act s66), computed exactly."""
    quotient, remainder = divmod(abs(value.numerator), value.denominator)
    if 2 * remainder >= value.denominator:
        quotient += 1
    return quotient if value >= 0 else -quotient


def _allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split a non-negative `total` in proportion to `weights` by largest remainder.

    Each share is within one cent of its exact proportion and the shares sum to `total`; ties
    go to the earlier line, and a zero weight gets nothing.
    """
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [0 for _ in weights]
    shares = [divmod(total * weight, weight_sum) for weight in weights]
    allocated = [quotient for quotient, _ in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
    for i in by_remainder[: total - sum(allocated)]:
        allocated[i] += 1
    return allocated


def _treatment_totals(treatment: VatTreatment, lines: Sequence[LineTotals]) -> TreatmentTotals:
    chosen = [line for line in lines if line.vat is treatment]
    return TreatmentTotals(
        treatment=treatment,
        net_cents=sum(line.net_cents for line in chosen),
        vat_cents=sum(line.vat_cents for line in chosen),
        gross_cents=sum(line.gross_cents for line in chosen),
    )


def _finite(value: Decimal, field: str, label: str) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"{field} must be a Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise MoneyInputError(f"{label} must be a number.", field=field)
    return value


def _has_at_most_places(value: Decimal, places: int) -> bool:
    """Exact, unlike normalize(), which rounds to the context's precision; and read off the
    digits, since as_integer_ratio() of "1e-99999999" builds a 10**99999999 first (a request
    that typed it held a CPU for minutes)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite: checked by the caller
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return not any(digits) or exponent + trailing_zeros >= -places


def _percent(value: Decimal, field: str, label: str) -> Fraction:
    """A validated percentage 0 to 100 with at most 2 decimals, as an exact fraction."""
    percent = _finite(value, field, label)
    if not 0 <= percent <= 100:
        raise MoneyInputError(f"{label} must be between 0 % and 100 %.", field=field)
    if not _has_at_most_places(percent, PERCENT_PLACES):
        raise MoneyInputError(f"{label} can have at most 2 decimals.", field=field)
    return Fraction(percent)


def _rate(rate: Decimal) -> Fraction:
    return _percent(rate, "vat_rate", "The VAT rate") / 100
