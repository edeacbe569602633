"""CSV exports for the accountant: formula-safe, amounts that reconcile, the lists' filters."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from clientcompass.csv_safe import BOM, restore
from tests.support.accounts import sign_up
from tests.support.documents import draft, finalised, vat_business

EVIL = '=HYPERLINK("http://evil")'
HEADER = [
    "Number",
    "Issue date",
    "Due date",
    "Customer",
    "Customer VAT number",
    "Status",
    "Excl. VAT",
    "VAT",
    "Total",
    "Paid",
    "Credited",
    "Balance",
]


def exported(client: httpx.Client, path: str, **params: str) -> list[dict[str, str]]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    text = response.content.decode("utf-8")
    assert text.startswith(BOM)
    rows = list(csv.reader(io.StringIO(text[len(BOM) :])))
    assert rows[0] == HEADER or rows[0][2] == "Valid until"
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def cents(value: str) -> int:
    assert value == f"{Decimal(value):.2f}", f"not a plain decimal: {value!r}"
    return int(Decimal(value) * 100)


def invoices_for(client: httpx.Client) -> tuple[dict[str, str], list[dict[str, Any]]]:
    _, headers = vat_business(client)
    evil = finalised(client, headers, "invoices", name=EVIL, phone="+27825550301")
    paid = finalised(client, headers, "invoices", name="Paid Up", phone="+27825550302")
    part = finalised(client, headers, "invoices", name="Part Payer", phone="+27825550303")
    for invoice, amount in ((paid, Decimal(paid["total_cents"]) / 100), (part, Decimal("100"))):
        response = client.post(
            f"/api/v1/invoices/{invoice['id']}/payments",
            json={"amount": f"{amount:.2f}"},
            headers=headers,
        )
        assert response.status_code == 201, response.text
    credit = client.post(
        f"/api/v1/invoices/{part['id']}/credit-notes",
        json={
            "reason": "Element not needed",
            "lines": [{"description": "Element", "quantity": "1", "unit_price": "50"}],
        },
        headers=headers,
    )
    assert credit.status_code == 201, credit.text
    draft(client, headers, "invoices", name="Still A Draft", phone="+27825550304")
    return headers, [evil, paid, part]


def test_invoice_export_is_formula_safe_and_reconciles(client: httpx.Client) -> None:
    _, (evil, paid, part) = invoices_for(client)
    rows = exported(client, "/invoices/export.csv")
    assert [row["Number"] for row in rows] == [evil["number"], paid["number"], part["number"]]
    assert "Still A Draft" not in {row["Customer"] for row in rows}  # not in the books yet
    evil_row = rows[0]
    assert evil_row["Customer"] == "'" + EVIL  # a spreadsheet shows it as text
    assert restore(evil_row["Customer"]) == EVIL
    for row in rows:
        assert cents(row["Excl. VAT"]) + cents(row["VAT"]) == cents(row["Total"])
        assert cents(row["Total"]) - cents(row["Paid"]) - cents(row["Credited"]) == cents(
            row["Balance"]
        )
    by_number = {row["Number"]: row for row in rows}
    assert cents(by_number[evil["number"]]["Total"]) == evil["total_cents"]
    assert by_number[paid["number"]]["Status"] == "Paid"
    assert cents(by_number[paid["number"]]["Balance"]) == 0
    part_row = by_number[part["number"]]
    assert (cents(part_row["Paid"]), cents(part_row["Credited"])) == (10000, 5750)
    assert part_row["Status"] == "Partially paid"
    assert part_row["Issue date"] == part["issue_date"] and part_row["Due date"] == part["due_date"]
    # The balances are the list's outstanding total.
    totals = client.get("/api/v1/invoices").json()["totals"]
    assert sum(cents(row["Balance"]) for row in rows) == totals["outstanding_cents"]


def test_the_api_export_and_the_lists_filters(client: httpx.Client) -> None:
    _, (evil, paid, part) = invoices_for(client)
    everything = exported(client, "/api/v1/invoices/export.csv")
    assert len(everything) == 3
    assert [
        r["Number"] for r in exported(client, "/api/v1/invoices/export.csv", status="paid")
    ] == [paid["number"]]
    by_customer = exported(client, "/invoices/export.csv", customer=part["contact_id"])
    assert [r["Number"] for r in by_customer] == [part["number"]]
    tomorrow = (date.fromisoformat(evil["issue_date"]) + timedelta(days=1)).isoformat()
    assert exported(client, "/invoices/export.csv", date_from=tomorrow) == []
    drafts = exported(client, "/invoices/export.csv", status="draft")
    assert [r["Customer"] for r in drafts] == ["Still A Draft"] and drafts[0]["Number"] == ""
    bad = client.get("/api/v1/invoices/export.csv", params={"date_from": "30/11/2026"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.json()["error"]["message"]
    page_bad = client.get("/invoices/export.csv", params={"status": "nonsense"})
    assert page_bad.status_code == 422 and "status does not exist" in page_bad.text


def test_quote_export_and_tenancy(client: httpx.Client, live_server: Any) -> None:
    _, headers = vat_business(client)
    quote = finalised(client, headers, name=EVIL, phone="+27825550311")
    rows = exported(client, "/quotes/export.csv")
    assert len(rows) == 1 and rows[0]["Number"] == quote["number"]
    assert rows[0]["Valid until"] == quote["valid_until"]
    assert rows[0]["Customer"] == "'" + EVIL
    assert cents(rows[0]["Total"]) == quote["total_cents"] and cents(rows[0]["Balance"]) == 0
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        sign_up(other)
        assert exported(other, "/quotes/export.csv") == []
        assert exported(other, "/invoices/export.csv") == []
    with httpx.Client(base_url=live_server.url, timeout=20) as anonymous:
        assert anonymous.get("/api/v1/invoices/export.csv").status_code == 401
        assert anonymous.get("/invoices/export.csv").status_code == 303  # to the sign-in page
