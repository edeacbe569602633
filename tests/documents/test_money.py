"""Money on documents: totals reconcile to the cent in every price mode and rounding method.

The properties check the module against an independent oracle written here with exact
fractions; the worked examples are the ones a bookkeeper would redo by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcompass.documents.money import (
    DiscountKind,
    LineInput,
    MoneyInputError,
    PriceMode,
    Rounding,
    Totals,
    VatTreatment,
    balance_cents,
    compute,
    deposit_cents,
    exclusive_from_inclusive,
    format_quantity,
    format_zar,
    from_cents,
    inclusive_from_exclusive,
    to_cents,
)
from clientcompass.errors import InvalidInput

NBSP = "\u00a0"
EXCL, INCL = PriceMode.EXCLUSIVE, PriceMode.INCLUSIVE
PER_LINE, PER_DOCUMENT = Rounding.PER_LINE, Rounding.PER_DOCUMENT
EVERY_METHOD = pytest.mark.parametrize(
    ("mode", "rounding"), [(m, r) for m in PriceMode for r in Rounding]
)
FAST = settings(max_examples=150, deadline=None)


def d(text: str) -> Decimal:
    return Decimal(text)


def line(
    quantity: str,
    price: str,
    *,
    vat: VatTreatment = VatTreatment.STANDARD,
    percent: str | None = None,
    amount: str | None = None,
) -> LineInput:
    if amount is not None:
        return LineInput(
            quantity=d(quantity),
            unit_price=d(price),
            discount_kind=DiscountKind.AMOUNT,
            discount_value=d(amount),
            vat=vat,
        )
    return LineInput(
        quantity=d(quantity), unit_price=d(price), discount_value=d(percent or "0"), vat=vat
    )


# --- the oracle: exact fractions, rounded half up by floor(x + 1/2) (all values here are >= 0)


def half_up(value: Fraction) -> int:
    assert value >= 0
    return math.floor(value + Fraction(1, 2))


def exact_cents(item: LineInput) -> Fraction:
    return Fraction(item.quantity) * Fraction(item.unit_price) * 100


def discounted(item: LineInput) -> int:
    if item.discount_kind is DiscountKind.PERCENT:
        return half_up(exact_cents(item) * (1 - Fraction(item.discount_value) / 100))
    return half_up(exact_cents(item)) - int(item.discount_value * 100)


def vat_fraction(mode: PriceMode, rate: Decimal) -> Fraction:
    """s20's tax fraction for inclusive prices (15/115 at 15 %), the plain rate for exclusive."""
    r = Fraction(rate) / 100
    return r if mode is EXCL else r / (1 + r)


def taxable(items: Sequence[LineInput]) -> list[int]:
    return [discounted(i) if i.vat is VatTreatment.STANDARD else 0 for i in items]


# --- strategies


def scaled(units: int, places: int) -> Decimal:
    return Decimal(units).scaleb(-places)


quantities = st.integers(1, 10_000_000).map(lambda n: scaled(n, 3))  # 0,001 to 10 000
vat_rates = st.one_of(st.just(d("15")), st.integers(0, 10_000).map(lambda n: scaled(n, 2)))


@st.composite
def prices(draw: st.DrawFn) -> Decimal:
    places = draw(st.sampled_from([0, 2, 4]))
    return scaled(draw(st.integers(0, 1_000_000 * 10**places)), places)


@st.composite
def lines(draw: st.DrawFn) -> LineInput:
    quantity, price = draw(quantities), draw(prices())
    vat = draw(st.sampled_from(VatTreatment))
    kind = draw(st.sampled_from(DiscountKind))
    if kind is DiscountKind.PERCENT:
        percent = draw(st.one_of(st.just(0), st.just(10_000), st.integers(0, 10_000)))
        value = scaled(percent, 2)
    else:
        ceiling = half_up(Fraction(quantity) * Fraction(price) * 100)
        value = scaled(draw(st.one_of(st.just(ceiling), st.integers(0, ceiling))), 2)
    return LineInput(
        quantity=quantity, unit_price=price, discount_kind=kind, discount_value=value, vat=vat
    )


documents = st.lists(lines(), min_size=1, max_size=30)


# --- properties


@EVERY_METHOD
@FAST
@given(items=documents, rate=vat_rates)
def test_lines_vat_and_totals_reconcile_to_the_cent(
    mode: PriceMode, rounding: Rounding, items: list[LineInput], rate: Decimal
) -> None:
    totals = compute(items, mode=mode, rounding=rounding, vat_rate=rate)

    assert len(totals.lines) == len(items)
    for item, priced in zip(items, totals.lines, strict=True):
        assert priced.vat is item.vat
        assert priced.undiscounted_cents == half_up(exact_cents(item))
        assert priced.undiscounted_cents - priced.discount_cents == discounted(item)
        assert 0 <= priced.discount_cents <= priced.undiscounted_cents
        assert priced.gross_cents == priced.net_cents + priced.vat_cents
        assert priced.net_cents >= 0
        assert priced.vat_cents >= 0
        entered = priced.net_cents if mode is EXCL else priced.gross_cents
        assert entered == discounted(item)
        if item.vat is not VatTreatment.STANDARD:
            assert priced.vat_cents == 0

    assert sum(p.net_cents for p in totals.lines) == totals.subtotal_excl_cents
    assert sum(p.vat_cents for p in totals.lines) == totals.vat_cents
    assert sum(p.gross_cents for p in totals.lines) == totals.total_cents
    assert sum(p.discount_cents for p in totals.lines) == totals.discount_cents
    assert totals.total_cents == totals.subtotal_excl_cents + totals.vat_cents

    breakdown = (totals.standard, totals.zero_rated, totals.exempt)
    assert [b.treatment for b in breakdown] == list(VatTreatment)
    for part in breakdown:
        chosen = [p for p in totals.lines if p.vat is part.treatment]
        assert part.net_cents == sum(p.net_cents for p in chosen)
        assert part.vat_cents == sum(p.vat_cents for p in chosen)
        assert part.gross_cents == part.net_cents + part.vat_cents
    assert totals.zero_rated.vat_cents == totals.exempt.vat_cents == 0
    assert sum(b.net_cents for b in breakdown) == totals.subtotal_excl_cents
    assert sum(b.gross_cents for b in breakdown) == totals.total_cents
    assert totals.standard.vat_cents == totals.vat_cents


@pytest.mark.parametrize("mode", list(PriceMode))
@FAST
@given(items=documents, rate=vat_rates)
def test_per_line_rounds_each_lines_vat(
    mode: PriceMode, items: list[LineInput], rate: Decimal
) -> None:
    totals = compute(items, mode=mode, rounding=PER_LINE, vat_rate=rate)
    fraction = vat_fraction(mode, rate)
    expected = [half_up(base * fraction) for base in taxable(items)]
    assert [p.vat_cents for p in totals.lines] == expected
    assert totals.vat_cents == sum(expected)


@pytest.mark.parametrize("mode", list(PriceMode))
@FAST
@given(items=documents, rate=vat_rates)
def test_per_document_rounds_once_and_allocates_by_largest_remainder(
    mode: PriceMode, items: list[LineInput], rate: Decimal
) -> None:
    totals = compute(items, mode=mode, rounding=PER_DOCUMENT, vat_rate=rate)
    bases = taxable(items)
    document_vat = half_up(sum(bases) * vat_fraction(mode, rate))
    assert totals.vat_cents == document_vat
    for base, priced in zip(bases, totals.lines, strict=True):
        share = Fraction(document_vat * base, sum(bases)) if sum(bases) else Fraction(0)
        assert abs(priced.vat_cents - share) < 1  # each line within a cent of its exact share


@pytest.mark.parametrize("mode", list(PriceMode))
@FAST
@given(items=documents, rate=vat_rates)
def test_the_rounding_method_only_moves_vat_never_what_was_entered(
    mode: PriceMode, items: list[LineInput], rate: Decimal
) -> None:
    per_line = compute(items, mode=mode, rounding=PER_LINE, vat_rate=rate)
    per_document = compute(items, mode=mode, rounding=PER_DOCUMENT, vat_rate=rate)
    if mode is EXCL:
        assert per_line.subtotal_excl_cents == per_document.subtotal_excl_cents
    else:  # the customer pays the same either way
        assert per_line.total_cents == per_document.total_cents
    # Each of n roundings is off by at most half a cent, and so is the one rounding of the sum.
    standard_lines = sum(1 for i in items if i.vat is VatTreatment.STANDARD)
    assert abs(per_line.vat_cents - per_document.vat_cents) <= (standard_lines + 1) // 2


@given(item=lines())
@settings(max_examples=300, deadline=None)
def test_discounts_never_go_negative(item: LineInput) -> None:
    for mode in PriceMode:
        (priced,) = compute([item], mode=mode, rounding=PER_LINE).lines
        assert 0 <= priced.discount_cents <= priced.undiscounted_cents
        assert min(priced.net_cents, priced.vat_cents, priced.gross_cents) >= 0


@given(quantity=quantities, price=prices(), excess=st.integers(1, 10**9))
@settings(max_examples=300, deadline=None)
def test_an_amount_discount_larger_than_the_line_is_refused(
    quantity: Decimal, price: Decimal, excess: int
) -> None:
    ceiling = half_up(Fraction(quantity) * Fraction(price) * 100)
    with pytest.raises(MoneyInputError, match="is more than the line") as refused:
        LineInput(
            quantity=quantity,
            unit_price=price,
            discount_kind=DiscountKind.AMOUNT,
            discount_value=scaled(ceiling + excess, 2),
        )
    assert refused.value.field == "discount_value"


@given(cents=st.integers(-(10**13), 10**13))
@settings(max_examples=300, deadline=None)
def test_cents_and_rands_convert_exactly(cents: int) -> None:
    rands = from_cents(cents)
    assert rands.as_tuple().exponent == -2
    assert to_cents(rands) == cents
    assert to_cents(-rands) == -cents


@given(tenths_of_cents=st.integers(-(10**12), 10**12))
@settings(max_examples=300, deadline=None)
def test_to_cents_rounds_half_away_from_zero(tenths_of_cents: int) -> None:
    amount = scaled(tenths_of_cents, 3)
    whole, tenths = divmod(abs(tenths_of_cents), 10)
    expected = whole + (1 if tenths >= 5 else 0)
    assert to_cents(amount) == (expected if tenths_of_cents >= 0 else -expected)


@given(cents=st.integers(-(10**11), 10**11), rate=vat_rates)
@settings(max_examples=300, deadline=None)
def test_exclusive_to_inclusive_and_back_is_exact(cents: int, rate: Decimal) -> None:
    net = from_cents(cents)
    gross = inclusive_from_exclusive(net, rate)
    assert gross.as_tuple().exponent == -2
    assert exclusive_from_inclusive(gross, rate) == net


@given(cents=st.integers(-(10**11), 10**11), rate=vat_rates)
@settings(max_examples=300, deadline=None)
def test_inclusive_to_exclusive_and_back_is_within_a_cent(cents: int, rate: Decimal) -> None:
    gross = from_cents(cents)
    back = inclusive_from_exclusive(exclusive_from_inclusive(gross, rate), rate)
    assert abs(to_cents(back) - cents) <= 1


def test_inclusive_to_exclusive_and_back_can_lose_a_cent() -> None:
    assert exclusive_from_inclusive(d("0.04")) == d("0.03")
    assert inclusive_from_exclusive(d("0.03")) == d("0.03")
    assert exclusive_from_inclusive(d("115.00")) == d("100.00")
    assert inclusive_from_exclusive(d("100.00")) == d("115.00")


@st.composite
def equivalent_documents(draw: st.DrawFn) -> tuple[Decimal, list[LineInput], list[LineInput]]:
    """The same sale priced excl. and incl. VAT, with every inclusive price exact (2 dp times 1,15)."""
    rate = draw(st.sampled_from([d("15"), d("14"), d("0")]))
    factor = 1 + rate / 100
    exclusive, inclusive = [], []
    for _ in range(draw(st.integers(1, 30))):
        quantity = draw(quantities)
        price = scaled(draw(st.integers(0, 100_000_000)), 2)
        vat = draw(st.sampled_from(VatTreatment))
        uplift = factor if vat is VatTreatment.STANDARD else Decimal(1)
        if draw(st.booleans()):
            percent = scaled(draw(st.integers(0, 10_000)), 2)
            exclusive.append(
                LineInput(quantity=quantity, unit_price=price, discount_value=percent, vat=vat)
            )
            inclusive.append(
                LineInput(
                    quantity=quantity, unit_price=price * uplift, discount_value=percent, vat=vat
                )
            )
        else:  # whole rands, at most the exact line, so the inclusive discount fits too
            rands = draw(st.integers(0, math.floor(Fraction(quantity) * Fraction(price))))
            amount = Decimal(rands)
            for target, unit_price, discount in (
                (exclusive, price, amount),
                (inclusive, price * uplift, amount * uplift),
            ):
                target.append(
                    LineInput(
                        quantity=quantity,
                        unit_price=unit_price,
                        discount_kind=DiscountKind.AMOUNT,
                        discount_value=discount,
                        vat=vat,
                    )
                )
    return rate, exclusive, inclusive


@given(sale=equivalent_documents())
@settings(max_examples=300, deadline=None)
def test_the_same_sale_priced_both_ways_agrees_per_line_within_a_cent(
    sale: tuple[Decimal, list[LineInput], list[LineInput]],
) -> None:
    """Per line rounding, rate up to 50 %.

    With y the exact net, excl. rounds n = round(y) then gross = round(k*n); incl. rounds
    G = round(k*y) then net = G - round(t*G). Every pair is within 1 + k/2 < 2 cents, so
    within one cent, and the document totals within one cent per line.
    """
    rate, exclusive, inclusive = sale
    by_net = compute(exclusive, mode=EXCL, rounding=PER_LINE, vat_rate=rate)
    by_gross = compute(inclusive, mode=INCL, rounding=PER_LINE, vat_rate=rate)
    for item, a, b in zip(exclusive, by_net.lines, by_gross.lines, strict=True):
        assert abs(a.net_cents - b.net_cents) <= 1
        assert abs(a.vat_cents - b.vat_cents) <= 1
        assert abs(a.gross_cents - b.gross_cents) <= 1
        if item.vat is not VatTreatment.STANDARD:
            assert a == b
    n = len(exclusive)
    assert abs(by_net.subtotal_excl_cents - by_gross.subtotal_excl_cents) <= n
    assert abs(by_net.vat_cents - by_gross.vat_cents) <= n
    assert abs(by_net.total_cents - by_gross.total_cents) <= n
    assert by_net.zero_rated == by_gross.zero_rated
    assert by_net.exempt == by_gross.exempt


@given(sale=equivalent_documents())
@settings(max_examples=300, deadline=None)
def test_the_same_sale_priced_both_ways_agrees_per_document_within_the_rounding_bound(
    sale: tuple[Decimal, list[LineInput], list[LineInput]],
) -> None:
    """Per document rounding: n line roundings of half a cent, scaled by k, plus the VAT's own.

    subtotal: n/2 + n/(2k) + 1/2; VAT: 1 + (k - 1 + t) n/2; total: 1/2 + (1 + k) n/2.
    """
    rate, exclusive, inclusive = sale
    by_net = compute(exclusive, mode=EXCL, rounding=PER_DOCUMENT, vat_rate=rate)
    by_gross = compute(inclusive, mode=INCL, rounding=PER_DOCUMENT, vat_rate=rate)
    n = len(exclusive)
    k = 1 + Fraction(rate) / 100
    t = (k - 1) / k
    half = Fraction(1, 2)
    subtotal_gap = by_net.subtotal_excl_cents - by_gross.subtotal_excl_cents
    assert abs(subtotal_gap) <= n * half + n * half / k + half
    assert abs(by_net.vat_cents - by_gross.vat_cents) <= 1 + (k - 1 + t) * n * half
    assert abs(by_net.total_cents - by_gross.total_cents) <= half + (1 + k) * n * half


@given(cents=st.integers(-(10**13), 10**13))
@settings(max_examples=300, deadline=None)
def test_format_zar_reads_back_as_the_same_amount(cents: int) -> None:
    text = format_zar(cents)
    assert " " not in text
    assert text.startswith("-R" + NBSP if cents < 0 else "R" + NBSP)
    digits = text.removeprefix("-").removeprefix("R").replace(NBSP, "").replace(",", ".")
    assert Decimal(digits) == abs(from_cents(cents))


# --- worked examples


def test_three_at_r99_99_exclusive() -> None:
    totals = compute([line("3", "99.99")], mode=EXCL, rounding=PER_LINE)
    assert (totals.subtotal_excl_cents, totals.vat_cents, totals.total_cents) == (
        29_997,
        4_500,  # 299,97 * 15 % = 44,9955
        34_497,
    )
    assert format_zar(totals.total_cents) == f"R{NBSP}344,97"


def test_inclusive_r115_is_r100_plus_r15() -> None:
    (priced,) = compute([line("1", "115")], mode=INCL, rounding=PER_LINE).lines
    assert (priced.net_cents, priced.vat_cents, priced.gross_cents) == (10_000, 1_500, 11_500)


def test_inclusive_r100_uses_the_tax_fraction() -> None:
    (priced,) = compute([line("1", "100")], mode=INCL, rounding=PER_LINE).lines
    # 100,00 * 15/115 = 13,0434...; the customer still pays exactly R 100,00
    assert (priced.net_cents, priced.vat_cents, priced.gross_cents) == (8_696, 1_304, 10_000)


def test_half_a_cent_rounds_up() -> None:
    # R 0,30 * 15 % = 4,5 cents: half up gives 5 (bankers' rounding would give 4)
    (priced,) = compute([line("1", "0.30")], mode=EXCL, rounding=PER_LINE).lines
    assert priced.vat_cents == 5
    assert to_cents(d("0.125")) == 13
    assert to_cents(d("0.135")) == 14
    assert to_cents(d("0.1249999")) == 12
    assert to_cents(d("-0.125")) == -13


def test_per_document_rounding_can_save_a_cent_and_still_reconciles() -> None:
    items = [line("1", "10.10")] * 3
    per_line = compute(items, mode=EXCL, rounding=PER_LINE)
    per_document = compute(items, mode=EXCL, rounding=PER_DOCUMENT)
    # per line: 10,10 * 15 % = 1,515 -> 1,52 three times; per document: 30,30 * 15 % = 4,545 -> 4,55
    assert [p.vat_cents for p in per_line.lines] == [152, 152, 152]
    assert (per_line.vat_cents, per_line.total_cents) == (456, 3_486)
    assert [p.vat_cents for p in per_document.lines] == [152, 152, 151]
    assert (per_document.vat_cents, per_document.total_cents) == (455, 3_485)
    assert [p.gross_cents for p in per_document.lines] == [1_162, 1_162, 1_161]


def test_per_document_rounding_inclusive_moves_a_cent_from_net_to_vat() -> None:
    items = [line("1", "10")] * 3
    per_line = compute(items, mode=INCL, rounding=PER_LINE)
    per_document = compute(items, mode=INCL, rounding=PER_DOCUMENT)
    # per line: 10,00 * 15/115 = 1,304 -> 1,30 each; per document: 30,00 * 15/115 = 3,913 -> 3,91
    assert per_line.vat_cents == 390
    assert per_document.vat_cents == 391
    assert [p.net_cents for p in per_document.lines] == [869, 870, 870]
    assert per_line.total_cents == per_document.total_cents == 3_000


def test_the_same_line_entered_both_ways_can_differ_by_a_cent() -> None:
    (by_net,) = compute([line("1.5", "1.01")], mode=EXCL, rounding=PER_LINE).lines
    (by_gross,) = compute([line("1.5", "1.1615")], mode=INCL, rounding=PER_LINE).lines
    # 1,5 * 1,01 = 1,515 -> 1,52 + 0,23 = 1,75;  1,5 * 1,1615 = 1,74225 -> 1,74 = 1,51 + 0,23
    assert (by_net.net_cents, by_net.vat_cents, by_net.gross_cents) == (152, 23, 175)
    assert (by_gross.net_cents, by_gross.vat_cents, by_gross.gross_cents) == (151, 23, 174)


def test_a_tax_invoice_with_every_treatment() -> None:
    items = [
        line("2", "450", vat=VatTreatment.STANDARD),  # call-out and labour
        line("1", "1200", vat=VatTreatment.ZERO_RATED),  # a service exported
        line("1", "300", vat=VatTreatment.EXEMPT),  # e.g. a financial service
    ]
    totals = compute(items, mode=EXCL, rounding=PER_LINE)
    assert (totals.standard.net_cents, totals.standard.vat_cents) == (90_000, 13_500)
    assert (totals.zero_rated.net_cents, totals.zero_rated.gross_cents) == (120_000, 120_000)
    assert (totals.exempt.net_cents, totals.exempt.gross_cents) == (30_000, 30_000)
    assert (totals.subtotal_excl_cents, totals.vat_cents, totals.total_cents) == (
        240_000,
        13_500,
        253_500,
    )


def test_percent_discount() -> None:
    (priced,) = compute([line("2", "49.95", percent="10")], mode=EXCL, rounding=PER_LINE).lines
    # 99,90 less 10 % = 89,91; VAT 13,4865 -> 13,49
    assert (priced.undiscounted_cents, priced.discount_cents) == (9_990, 999)
    assert (priced.net_cents, priced.vat_cents, priced.gross_cents) == (8_991, 1_349, 10_340)


def test_percent_discount_rounds_once() -> None:
    (priced,) = compute([line("1", "0.125", percent="50")], mode=EXCL, rounding=PER_LINE).lines
    # 12,5 cents -> 13; half of the exact 12,5 is 6,25 -> 6, so the discount shown is 7
    assert (priced.undiscounted_cents, priced.net_cents, priced.discount_cents) == (13, 6, 7)


def test_a_full_discount_leaves_nothing() -> None:
    totals = compute([line("3", "99.99", percent="100")], mode=INCL, rounding=PER_DOCUMENT)
    assert totals.discount_cents == 29_997
    assert (totals.subtotal_excl_cents, totals.vat_cents, totals.total_cents) == (0, 0, 0)


def test_amount_discount_on_inclusive_prices_is_inclusive() -> None:
    (priced,) = compute([line("1", "230", amount="20")], mode=INCL, rounding=PER_LINE).lines
    # 210,00 * 15/115 = 27,391...
    assert (priced.discount_cents, priced.gross_cents) == (2_000, 21_000)
    assert (priced.vat_cents, priced.net_cents) == (2_739, 18_261)


def test_an_amount_discount_of_the_whole_line_is_allowed() -> None:
    (priced,) = compute([line("2", "50", amount="100")], mode=EXCL, rounding=PER_LINE).lines
    assert (priced.discount_cents, priced.gross_cents) == (10_000, 0)


def test_zero_vat_rate_and_an_empty_document() -> None:
    totals = compute([line("1", "100")], mode=EXCL, rounding=PER_LINE, vat_rate=d("0"))
    assert (totals.vat_cents, totals.total_cents) == (0, 10_000)
    empty = compute([], mode=INCL, rounding=PER_DOCUMENT)
    assert (empty.lines, empty.total_cents, empty.standard.net_cents) == ((), 0, 0)


def test_deposit_and_balance() -> None:
    assert deposit_cents(34_497, d("50")) == 17_249  # 172,485 rounds up
    assert balance_cents(34_497, d("50")) == 17_248
    assert deposit_cents(100_000, d("33.33")) == 33_330
    assert deposit_cents(34_497, d("0")) == 0
    assert deposit_cents(34_497, d("100")) == 34_497
    assert balance_cents(34_497, d("100")) == 0


@given(total=st.integers(0, 10**12), percent=st.integers(0, 10_000))
@settings(max_examples=300, deadline=None)
def test_deposit_plus_balance_is_the_total(total: int, percent: int) -> None:
    deposit = deposit_cents(total, scaled(percent, 2))
    assert 0 <= deposit <= total
    assert deposit + balance_cents(total, scaled(percent, 2)) == total
    assert deposit == half_up(Fraction(total * percent, 10_000))


# --- validation


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"quantity": d("0")}, "quantity", "Quantity must be more than 0."),
        ({"quantity": d("-1")}, "quantity", "Quantity must be more than 0."),
        ({"quantity": d("1000000.001")}, "quantity", "Quantity can be at most 1 000 000."),
        ({"quantity": d("1.2345")}, "quantity", "Quantity can have at most 3 decimals."),
        ({"quantity": d("NaN")}, "quantity", "Quantity must be a number."),
        ({"unit_price": d("-0.01")}, "unit_price", "Unit price can't be negative."),
        ({"unit_price": d("1.23456")}, "unit_price", "Unit price can have at most 4 decimals."),
        ({"unit_price": d("Infinity")}, "unit_price", "Unit price must be a number."),
        ({"unit_price": d("1000000000.01")}, "unit_price", "Unit price can be at most R"),
        (
            {"discount_value": d("100.01")},
            "discount_value",
            "A discount percentage must be between 0 % and 100 %.",
        ),
        (
            {"discount_value": d("-1")},
            "discount_value",
            "A discount percentage must be between 0 % and 100 %.",
        ),
        (
            {"discount_value": d("12.345")},
            "discount_value",
            "A discount percentage can have at most 2 decimals.",
        ),
        (
            {"discount_kind": DiscountKind.AMOUNT, "discount_value": d("-5")},
            "discount_value",
            "A discount can't be negative.",
        ),
        (
            {"discount_kind": DiscountKind.AMOUNT, "discount_value": d("1.005")},
            "discount_value",
            "at most 2 decimals",
        ),
        (
            {"discount_kind": DiscountKind.AMOUNT, "discount_value": d("300.01")},
            "discount_value",
            f"The discount (R{NBSP}300,01) is more than the line (R{NBSP}300,00).",
        ),
    ],
)
def test_invalid_lines_are_refused_with_a_message_a_person_understands(
    kwargs: dict[str, object], field: str, message: str
) -> None:
    values: dict[str, object] = {"quantity": d("3"), "unit_price": d("100"), **kwargs}
    with pytest.raises(MoneyInputError) as refused:
        LineInput(**values)  # type: ignore[arg-type]
    assert message in refused.value.message
    assert refused.value.field == field


def test_the_error_is_a_value_error_the_app_renders_as_invalid_input() -> None:
    with pytest.raises(ValueError, match="more than 0") as refused:
        line("0", "1")
    assert isinstance(refused.value, InvalidInput)
    assert refused.value.status_code == 422


def test_trailing_zeros_do_not_count_as_decimals() -> None:
    item = line("1.500000", "2.50000000")
    assert compute([item], mode=EXCL, rounding=PER_LINE).subtotal_excl_cents == 375


@pytest.mark.parametrize("rate", ["-1", "100.01", "15.005", "NaN"])
def test_an_invalid_vat_rate_is_refused(rate: str) -> None:
    with pytest.raises(MoneyInputError, match="The VAT rate") as refused:
        compute([line("1", "1")], mode=EXCL, rounding=PER_LINE, vat_rate=d(rate))
    assert refused.value.field == "vat_rate"


@pytest.mark.parametrize("percent", ["-0.01", "100.01", "12.345"])
def test_an_invalid_deposit_is_refused(percent: str) -> None:
    with pytest.raises(MoneyInputError, match="The deposit") as refused:
        deposit_cents(10_000, d(percent))
    assert refused.value.field == "deposit_percent"


def test_a_float_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        LineInput(quantity=1.5, unit_price=d("1"))  # type: ignore[arg-type]


# --- formatting


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (123_456, "R 1 234,56"),
        (0, "R 0,00"),
        (5, "R 0,05"),
        (100, "R 1,00"),
        (-123_456, "-R 1 234,56"),
        (123_456_789_012, "R 1 234 567 890,12"),
    ],
)
def test_format_zar(cents: int, text: str) -> None:
    assert format_zar(cents) == text.replace(" ", NBSP)


@pytest.mark.parametrize(
    ("quantity", "text"),
    [("2", "2"), ("1.500", "1,5"), ("0.001", "0,001"), ("1234.125", "1 234,125")],
)
def test_format_quantity(quantity: str, text: str) -> None:
    assert format_quantity(d(quantity)) == text.replace(" ", NBSP)


def test_totals_record_how_they_were_computed() -> None:
    totals: Totals = compute([line("1", "1")], mode=EXCL, rounding=PER_LINE)
    assert (totals.mode, totals.rounding, totals.vat_rate) == (EXCL, PER_LINE, d("15"))
