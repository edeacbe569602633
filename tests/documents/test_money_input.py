"""One reading of typed money for every amount field, on the pages and in the JSON API."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from clientcompass.documents.money import (
    NBSP,
    MoneyInputError,
    format_amount,
    format_zar,
    from_cents,
    parse_amount,
)
from clientcompass.documents.schemas import CreditNoteIn, LineIn, PaymentIn
from tests.support.documents import finalised, vat_business
from tests.support.forms import page_csrf

PLAIN = "Type an amount like 1 150,00."


# --- the parser, a pure function


@pytest.mark.parametrize(
    ("typed", "rand"),
    [
        ("R1 150,00", "1150.00"),
        ("1150.00", "1150.00"),
        ("1 150", "1150"),
        ("R 1,150.00", "1150.00"),
        ("1150,5", "1150.5"),
        ("R1150", "1150"),
        (f"R{NBSP}1{NBSP}150,00", "1150.00"),  # as format_zar prints it
        ("1\u202f150,00", "1150.00"),  # a narrow no-break space, as some keyboards give
        ("  r 389,99 ", "389.99"),
        ("ZAR 1 150", "1150"),
        ("1 150 000,50", "1150000.50"),
        ("1,150,000", "1150000"),
        ("1.150,00", "1150.00"),
        ("0,150", "0.150"),
        ("1234,567", "1234.567"),
        ("12.345", "12.345"),
        (",50", "0.50"),
        ("0,4567", "0.4567"),
        (f"-R{NBSP}1{NBSP}234,56", "-1234.56"),
        ("R -5", "-5"),
        ("0", "0"),
    ],
)
def test_the_forms_people_type_are_read(typed: str, rand: str) -> None:
    assert parse_amount(typed) == Decimal(rand)
    assert str(parse_amount(typed)) == rand, "no decimals invented or dropped"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "R",
        "abc",
        "1e5",
        "NaN",
        "Infinity",
        "12-50",
        "1,150,00",
        "1 15,00",
        "1,,5",
        "1. 5",
        "1 ,5",
        "1150,",
        "100 R",
        "R 1 150,000.00",
        "1,150.5.3",
        "--5",
        "١٢٣",
        "²",
        "9" * 41,
    ],
)
def test_what_cannot_be_read_gets_the_plain_message(typed: str) -> None:
    with pytest.raises(MoneyInputError) as refused:
        parse_amount(typed)
    assert refused.value.message == PLAIN


@pytest.mark.parametrize("typed", ["1,150", "R 12,345", "123,456", "-R1,150"])
def test_a_comma_that_could_be_thousands_or_cents_is_asked_about(typed: str) -> None:
    with pytest.raises(MoneyInputError) as refused:
        parse_amount(typed)
    assert refused.value.message.endswith(PLAIN)
    assert "thousands or for cents" in refused.value.message


@pytest.mark.parametrize(
    ("value", "rand"),
    [(1150, "1150"), (1150.5, "1150.5"), (0.1, "0.1"), (Decimal("389.9900"), "389.9900")],
)
def test_numbers_pass_as_they_are(value: object, rand: str) -> None:
    assert str(parse_amount(value)) == rand


@pytest.mark.parametrize(
    "value", [None, True, [1], float("nan"), float("inf"), Decimal("NaN"), Decimal("-Infinity")]
)
def test_what_is_not_a_number_is_refused(value: object) -> None:
    with pytest.raises(MoneyInputError, match=PLAIN):
        parse_amount(value)


CENTS = st.integers(-(10**13), 10**13)


@given(cents=CENTS)
@settings(max_examples=300, deadline=None)
def test_every_way_the_app_and_people_print_an_amount_reads_back(cents: int) -> None:
    rand = from_cents(cents)
    for printed in (
        format_zar(cents),
        format_amount(cents),
        f"{rand:.2f}",
        f"{rand:,.2f}",  # 1,150.00
        f"R {rand:,.2f}".replace("R -", "-R "),
        f"{rand:,.2f}".replace(",", " ").replace(".", ","),  # 1 150,00
    ):
        assert parse_amount(printed) == rand, printed


@given(
    text=st.text(
        alphabet=st.sampled_from([*"0123456789 ,.-Rr", NBSP, "\u202f", "x", "e"]),
        max_size=20,
    )
)
@settings(max_examples=500, deadline=None)
def test_any_text_is_an_amount_or_the_plain_message(text: str) -> None:
    try:
        value = parse_amount(text)
    except MoneyInputError as refused:
        assert refused.message.endswith(PLAIN)
    else:
        assert value.is_finite()


# --- the schemas: every money field reads the same way


def messages(exc: ValidationError) -> list[str]:
    return [str(error["msg"]) for error in exc.errors()]


def test_every_money_field_takes_the_same_forms() -> None:
    line = LineIn.model_validate(
        {
            "description": "Geyser",
            "unit_price": "R1 150,00",
            "discount_kind": "amount",
            "discount_value": "R 1,150.00",
        }
    )
    assert line.unit_price == line.discount_value == Decimal("1150.00")
    assert PaymentIn.model_validate({"amount": "R1 150,00"}).amount == Decimal("1150.00")
    note = CreditNoteIn.model_validate(
        {"reason": "Returned", "lines": [{"description": "Geyser", "unit_price": "1 150"}]}
    )
    assert note.lines and note.lines[0].unit_price == Decimal("1150")


def test_a_percentage_discount_is_not_read_as_money() -> None:
    line = LineIn.model_validate(
        {"description": "Labour", "unit_price": "100", "discount_value": "12.5"}
    )
    assert line.discount_value == Decimal("12.5")
    with pytest.raises(ValidationError):
        LineIn.model_validate({"description": "Labour", "unit_price": "1", "discount_value": "R5"})


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        (PaymentIn, {"amount": "one thousand"}),
        (PaymentIn, {"amount": None}),
        (LineIn, {"description": "Geyser", "unit_price": "12-50"}),
        (LineIn, {"description": "Geyser", "unit_price": None}),
        (
            LineIn,
            {
                "description": "x",
                "unit_price": "1",
                "discount_kind": "amount",
                "discount_value": "?",
            },
        ),
    ],
)
def test_bad_money_never_says_valid_decimal(schema: type[Any], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as refused:
        schema.model_validate(data)
    said = messages(refused.value)
    assert said == [f"Value error, {PLAIN}"], said
    assert not any("valid decimal" in message for message in said)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "A payment must be more than zero."),
        ("-R 5", "A payment must be more than zero."),
        ("1150,005", "A payment is in rand and cents: at most 2 decimals."),
        ("1 000 000 000 000", "A payment can be at most R"),
    ],
)
def test_a_payment_is_a_positive_amount_in_cents(amount: str, message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        PaymentIn.model_validate({"amount": amount})
    assert messages(refused.value)[0].removeprefix("Value error, ").startswith(message)


# --- over HTTP: the JSON API and the invoice page record the same cents


def payments_of(client: httpx.Client, invoice_id: str) -> list[int]:
    invoice = client.get(f"/api/v1/invoices/{invoice_id}").json()
    return [payment["amount_cents"] for payment in invoice["payments"]]


def test_a_payment_typed_the_south_african_way_is_recorded_through_the_api(
    client: httpx.Client,
) -> None:
    _, headers = vat_business(client)
    invoice = finalised(client, headers, "invoices")
    url = f"/api/v1/invoices/{invoice['id']}/payments"
    for bad in ("R1 150,0O", "1,150"):
        refused = client.post(url, json={"amount": bad}, headers=headers)
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["fields"]["amount"].endswith(PLAIN), error
        assert "valid decimal" not in refused.text
    assert payments_of(client, invoice["id"]) == []

    paid = client.post(url, json={"amount": "R1 150,00"}, headers=headers)
    assert paid.status_code == 201, paid.text
    assert payments_of(client, invoice["id"]) == [115000]
    assert paid.json()["balance_cents"] == invoice["total_cents"] - 115000


def test_a_payment_typed_the_south_african_way_is_recorded_through_the_page(
    client: httpx.Client,
) -> None:
    _, headers = vat_business(client)
    invoice = finalised(client, headers, "invoices")
    path = f"/invoices/{invoice['id']}"
    page = client.get(path)
    assert f'placeholder="{format_amount(invoice["total_cents"])}"' in page.text
    assert f"{NBSP}" in format_amount(invoice["total_cents"]), "printed as the app prints"

    def pay(amount: str) -> httpx.Response:
        token = page_csrf(client, path)
        return client.post(
            f"{path}/payments", data={"amount": amount, "method": "eft", "csrf_token": token}
        )

    refused = pay("twelve hundred")
    assert refused.status_code == 422
    shown = html.unescape(refused.text)
    assert PLAIN in shown and "valid decimal" not in shown
    assert 'value="twelve hundred"' in refused.text, "what was typed is kept"
    assert payments_of(client, invoice["id"]) == []

    paid = pay("R1 150,00")
    assert paid.status_code == 303, paid.text[:2000]
    assert payments_of(client, invoice["id"]) == [115000]


def test_quote_and_credit_note_lines_take_the_same_forms_in_the_api(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    lines = [
        {"description": "Geyser", "unit_price": "R1 150,00"},
        {
            "description": "Labour",
            "quantity": "2",
            "unit_price": "R 1,150.00",
            "discount_kind": "amount",
            "discount_value": "150,5",
        },
    ]
    quote = client.post(
        "/api/v1/quotes",
        json={"new_contact": {"name": "Sipho", "phone": "+27825550111"}, "lines": lines},
        headers=headers,
    )
    assert quote.status_code == 201, quote.text
    # 1 150,00 + (2 x 1 150,00 - 150,50) = 3 299,50 excl. VAT.
    assert quote.json()["subtotal_excl_cents"] == 329950

    invoice = finalised(client, headers, "invoices")
    note = client.post(
        f"/api/v1/invoices/{invoice['id']}/credit-notes",
        json={"reason": "Returned", "lines": [{"description": "Element", "unit_price": "R100"}]},
        headers=headers,
    )
    assert note.status_code == 201, note.text
    assert note.json()["subtotal_excl_cents"] == 10000
