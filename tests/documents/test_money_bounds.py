"""Amounts have bounds a person is told about: a document whose total would not fit the bigint
cents it is stored in was a 500; it is refused in plain words with nothing stored. A quantity
typed with a huge exponent is refused as quickly as any other bad number."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from clientcompass.documents.money import (
    MAX_DOCUMENT_CENTS,
    MAX_QUANTITY,
    MAX_UNIT_PRICE,
    LineInput,
    MoneyInputError,
    PriceMode,
    Rounding,
    VatTreatment,
    compute,
)
from tests.support.documents import vat_business

BIGINT = 2**63 - 1
TOO_MUCH = "This document comes to more than R\u00a0999\u00a0999\u00a0999\u00a0999,99"


def test_a_total_beyond_bigint_cents_is_refused_and_nothing_is_stored(
    client: httpx.Client,
) -> None:
    _, headers = vat_business(client)
    line = {
        "description": "Everything",
        "quantity": str(MAX_QUANTITY),
        "unit_price": str(MAX_UNIT_PRICE),
    }
    assert 200 * MAX_QUANTITY * MAX_UNIT_PRICE * 100 > BIGINT  # what used to reach the insert
    response = client.post(
        "/api/v1/quotes",
        json={
            "new_contact": {"name": "Big Spender", "phone": "+27825550199"},
            "lines": [line] * 200,
        },
        headers=headers,
    )
    assert response.status_code == 422, response.text[:300]
    error = response.json()["error"]
    assert error["fields"]["lines"].startswith(TOO_MUCH)
    assert client.get("/api/v1/quotes").json()["items"] == []


def test_the_live_totals_say_so_too(client: httpx.Client) -> None:
    vat_business(client)
    page = client.get("/quotes/new")
    token = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    response = client.post(
        "/documents/preview",
        data={
            "csrf_token": token,
            "lines.0.description": "Too much",
            "lines.0.quantity": "1000",
            "lines.0.unit_price": "1000000000",
        },
    )
    assert response.status_code == 200
    assert "This document comes to more than" in response.text


def test_a_quantity_with_a_huge_exponent_is_refused_at_once(client: httpx.Client) -> None:
    """`1e-999999999` has a value between 0 and 1 000 000; checking its decimals used to build
    a number of a billion digits (minutes of CPU for one request)."""
    _, headers = vat_business(client)
    response = client.post(
        "/api/v1/quotes",
        json={
            "new_contact": {"name": "Tiny", "phone": "+27825550198"},
            "lines": [{"description": "x", "quantity": "1e-999999999", "unit_price": "10"}],
        },
        headers=headers,
    )
    assert response.status_code == 422
    assert "Quantity can have at most 3 decimals." in response.text


def test_the_bound_is_exact() -> None:
    big = LineInput(
        quantity=Decimal(1000), unit_price=Decimal("999999999.9999"), vat=VatTreatment.ZERO_RATED
    )

    def total(*lines: LineInput) -> int:
        return compute(lines, mode=PriceMode.EXCLUSIVE, rounding=Rounding.PER_LINE).total_cents

    def cents(amount: str) -> LineInput:
        return LineInput(
            quantity=Decimal(1), unit_price=Decimal(amount), vat=VatTreatment.ZERO_RATED
        )

    assert total(big, cents("0.09")) == MAX_DOCUMENT_CENTS
    with pytest.raises(MoneyInputError, match="comes to more than"):
        total(big, cents("0.10"))
    with pytest.raises(MoneyInputError, match="comes to more than"):  # its VAT tips it over
        total(LineInput(quantity=Decimal(1000), unit_price=Decimal("999999999.9999")))
    # A 100 % discount does not hide an undiscounted sum beyond the bound either.
    free = LineInput(quantity=MAX_QUANTITY, unit_price=MAX_UNIT_PRICE, discount_value=Decimal(100))
    with pytest.raises(MoneyInputError, match="comes to more than"):
        total(*[free] * 100)
