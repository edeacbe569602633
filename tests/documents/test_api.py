"""Quotes, invoices, payments and credit notes through the JSON API, as the app's real role."""

from __future__ import annotations

import hashlib
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import httpx

from tests.support.accounts import sign_up
from tests.support.documents import THREE_LINES, draft, finalised, vat_business
from tests.support.reminders import business_today
from tests.support.step_up import CONFIRM

YEAR = business_today().year


def pdf_text(content: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()


def test_draft_quote_prices_its_lines_and_reconciles(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    quote = draft(client, headers, deposit_percent="50")
    assert quote["status"] == "draft" and quote["number"] is None
    # 450 + 2 x 389.99 + 2.5 h x 520 less 10 % = 450 + 779.98 + 1170 = 2399.98 excl.
    assert quote["subtotal_excl_cents"] == 239998
    assert quote["vat_cents"] == 6750 + 11700 + 17550  # per line, half up
    assert quote["total_cents"] == quote["subtotal_excl_cents"] + quote["vat_cents"]
    assert sum(line["gross_cents"] for line in quote["lines"]) == quote["total_cents"]
    assert quote["lines"][2]["discount_cents"] == 13000
    assert quote["terms"] == "Valid for 30 days."
    assert (
        quote["valid_until"]
        == (date.fromisoformat(quote["issue_date"]) + timedelta(30)).isoformat()
    )
    assert quote["deposit_cents"] == (quote["total_cents"] + 1) // 2
    assert quote["recipient_name"] == "Nomvula Mthembu-Müller"
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["total_cents"] == quote["total_cents"]


def test_inclusive_prices_use_the_tax_fraction(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    lines = [{"description": "Service", "quantity": "1", "unit_price": "115.00"}]
    quote = draft(client, headers, lines=lines, price_mode="inclusive")
    assert (quote["subtotal_excl_cents"], quote["vat_cents"], quote["total_cents"]) == (
        10000,
        1500,
        11500,
    )


def test_bad_line_is_reported_by_line_and_nothing_is_stored(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    bad = [THREE_LINES[0], {**THREE_LINES[1], "quantity": "0"}]
    response = client.post(
        "/api/v1/quotes",
        json={"new_contact": {"name": "A", "phone": "+27825550102"}, "lines": bad},
        headers=headers,
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert "lines.1.quantity" in error["fields"]
    assert "Line 2" in error["message"]
    assert client.get("/api/v1/quotes").json()["items"] == []
    assert client.get("/api/v1/contacts").json() == []


def test_finalise_numbers_once_and_freezes_the_document(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    quote = finalised(client, headers)
    assert quote["number"] == f"QUO-{YEAR}-0001"
    assert quote["status"] == "finalised" and len(quote["pdf_sha256"]) == 64
    again = client.post(f"/api/v1/quotes/{quote['id']}/finalise", headers=headers).json()
    assert again["number"] == quote["number"] and again["pdf_sha256"] == quote["pdf_sha256"]
    edit = client.put(
        f"/api/v1/quotes/{quote['id']}",
        json={"contact_id": quote["contact_id"], "lines": THREE_LINES[:1]},
        headers=headers,
    )
    assert edit.status_code == 409
    deleted = client.delete(f"/api/v1/quotes/{quote['id']}", headers={**headers, **CONFIRM})
    assert deleted.status_code == 409
    second = finalised(client, headers, phone="+27825550103")
    assert second["number"] == f"QUO-{YEAR}-0002"


def test_drafts_can_be_edited_duplicated_and_deleted(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    quote = draft(client, headers)
    edited = client.put(
        f"/api/v1/quotes/{quote['id']}",
        json={
            "contact_id": quote["contact_id"],
            "lines": THREE_LINES[:1],
            "notes": "Gate code 1234",
        },
        headers=headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["total_cents"] == 51750 and len(edited.json()["lines"]) == 1
    copy = client.post(f"/api/v1/quotes/{quote['id']}/duplicate", headers=headers)
    assert copy.status_code == 201
    assert copy.json()["id"] != quote["id"] and copy.json()["notes"] == "Gate code 1234"
    deleted = client.delete(f"/api/v1/quotes/{quote['id']}", headers={**headers, **CONFIRM})
    assert deleted.status_code == 204
    assert client.get(f"/api/v1/quotes/{quote['id']}").status_code == 404


def test_issued_pdf_is_served_identically_and_a_reprint_says_copy(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    invoice = finalised(client, headers, "invoices", name="Ṱhivhulawi Zoë")
    first = client.get(f"/api/v1/invoices/{invoice['id']}/pdf")
    second = client.get(f"/api/v1/invoices/{invoice['id']}/pdf")
    assert first.headers["content-type"] == "application/pdf"
    assert first.content == second.content
    assert hashlib.sha256(first.content).hexdigest() == invoice["pdf_sha256"]
    text = pdf_text(first.content)
    assert "Tax Invoice" in text and invoice["number"] in text and "Ṱhivhulawi Zoë" in text
    assert "4123456789" in text and "62812345678" in text and "Copy" not in text
    copy = client.get(f"/api/v1/invoices/{invoice['id']}/pdf?copy=true")
    assert "Copy" in pdf_text(copy.content)


def test_accepted_quote_becomes_deposit_and_final_invoices(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    quote = finalised(client, headers, deposit_percent="30")
    accepted = client.post(f"/api/v1/quotes/{quote['id']}/accept", headers=headers)
    assert accepted.json()["status"] == "accepted"
    assert client.post(f"/api/v1/quotes/{quote['id']}/accept", headers=headers).status_code == 200
    declined = client.post(f"/api/v1/quotes/{quote['id']}/decline", headers=headers)
    assert declined.status_code == 409
    response = client.post(
        f"/api/v1/quotes/{quote['id']}/convert", json={"split_deposit": True}, headers=headers
    )
    assert response.status_code == 201, response.text
    deposit, final = response.json()
    assert (deposit["invoice_part"], final["invoice_part"]) == ("deposit", "final")
    assert deposit["source_id"] == quote["id"]
    assert (
        deposit["subtotal_excl_cents"] + final["subtotal_excl_cents"]
        == quote["subtotal_excl_cents"]
    )
    assert abs(deposit["total_cents"] + final["total_cents"] - quote["total_cents"]) <= 1
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "invoiced"
    again = client.post(
        f"/api/v1/quotes/{quote['id']}/convert", json={"split_deposit": False}, headers=headers
    )
    assert again.status_code == 409


def test_a_converted_invoice_takes_invoice_terms_and_keeps_the_job(
    client: httpx.Client,
) -> None:
    _, headers = vat_business(client)
    quote_terms = "Quote valid for 14 days. 50% deposit on parts."
    quote = finalised(
        client,
        headers,
        terms=quote_terms,
        notes="Gate code 1234",
        deposit_percent="50",
        recipient_vat_number="4987654321",
        price_mode="inclusive",
        issue_date=(business_today() - timedelta(days=3)).isoformat(),
    )
    response = client.post(
        f"/api/v1/quotes/{quote['id']}/convert", json={"split_deposit": False}, headers=headers
    )
    assert response.status_code == 201, response.text
    (invoice,) = response.json()
    assert invoice["terms"] == "Payment due within 7 days."
    assert invoice["issue_date"] == business_today().isoformat()
    assert invoice["due_date"] == (business_today() + timedelta(days=7)).isoformat()
    assert invoice["valid_until"] is None and invoice["deposit_percent"] in ("0", "0.00")
    for kept in (
        "contact_id",
        "recipient_name",
        "recipient_vat_number",
        "billing_address",
        "service_address",
        "job_description",
        "notes",
        "price_mode",
        "total_cents",
    ):
        assert invoice[kept] == quote[kept], kept
    issued = client.post(f"/api/v1/invoices/{invoice['id']}/finalise", headers=headers)
    assert issued.status_code == 200, issued.text
    text = pdf_text(client.get(f"/api/v1/invoices/{invoice['id']}/pdf").content)
    assert "Tax Invoice" in text and "Payment due within 7 days." in text
    assert "Quote valid" not in text and "Gate code 1234" in text


def test_payments_leave_a_balance_then_pay_in_full(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    invoice = finalised(client, headers, "invoices")
    total = invoice["total_cents"]
    url = f"/api/v1/invoices/{invoice['id']}/payments"
    over = client.post(url, json={"amount": str(total / 100 + 1)}, headers=headers)
    assert over.status_code == 422 and "amount" in over.json()["error"]["fields"]
    part = client.post(url, json={"amount": "1000.00", "method": "cash"}, headers=headers)
    assert part.status_code == 201, part.text
    assert part.json()["status"] == "partially_paid"
    assert part.json()["balance_cents"] == total - 100000
    rest = client.post(
        url,
        json={"amount": f"{(total - 100000) / 100:.2f}", "reference": "EFT 123"},
        headers=headers,
    )
    assert rest.json()["status"] == "paid" and rest.json()["balance_cents"] == 0
    assert len(rest.json()["payments"]) == 2
    assert client.post(url, json={"amount": "1"}, headers=headers).status_code == 409
    totals = client.get("/api/v1/invoices").json()["totals"]
    assert totals["paid_this_month_cents"] == total and totals["outstanding_cents"] == 0


def test_credit_notes_correct_an_issued_invoice(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    invoice = finalised(client, headers, "invoices")
    url = f"/api/v1/invoices/{invoice['id']}/credit-notes"
    partial = client.post(
        url,
        json={
            "reason": "Element not needed",
            "lines": [{"description": "Element", "unit_price": "100"}],
        },
        headers=headers,
    )
    assert partial.status_code == 201, partial.text
    note = partial.json()
    assert note["number"] == f"CN-{YEAR}-0001" and note["total_cents"] == 11500
    text = pdf_text(client.get(f"/api/v1/credit-notes/{note['id']}/pdf").content)
    assert "Credit Note" in text and invoice["number"] in text and "Element not needed" in text
    after = client.get(f"/api/v1/invoices/{invoice['id']}").json()
    assert after["balance_cents"] == invoice["total_cents"] - 11500
    too_much = client.post(
        url, json={"reason": "Everything", "lines": THREE_LINES}, headers=headers
    )
    assert too_much.status_code == 422
    rest = [
        {
            "description": "Rest",
            "unit_price": f"{(invoice['subtotal_excl_cents'] - 10000) / 100:.2f}",
        }
    ]
    full = client.post(url, json={"reason": "Job cancelled", "lines": rest}, headers=headers)
    assert full.status_code == 201, full.text
    assert client.get(f"/api/v1/invoices/{invoice['id']}").json()["status"] == "voided"


def test_overdue_is_computed_and_filtered(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    past = (business_today() - timedelta(days=40)).isoformat()
    late = finalised(client, headers, "invoices", issue_date=past)
    finalised(client, headers, "invoices", phone="+27825550104")
    overdue = client.get("/api/v1/invoices?status=overdue").json()
    assert [item["id"] for item in overdue["items"]] == [late["id"]]
    assert overdue["items"][0]["status"] == "overdue"
    assert overdue["totals"]["overdue_cents"] == late["total_cents"]
    assert all(
        i["id"] != late["id"]
        for i in client.get("/api/v1/invoices?status=finalised").json()["items"]
    )


def test_list_pages_by_keyset(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    made = [draft(client, headers, phone=f"+2782555020{i}")["id"] for i in range(5)]
    first = client.get("/api/v1/quotes?limit=2").json()
    second = client.get(f"/api/v1/quotes?limit=2&cursor={first['next_cursor']}").json()
    third = client.get(f"/api/v1/quotes?limit=2&cursor={second['next_cursor']}").json()
    seen = [i["id"] for page in (first, second, third) for i in page["items"]]
    assert sorted(seen) == sorted(made) and len(set(seen)) == 5
    assert third["next_cursor"] is None


def test_another_tenants_documents_are_not_there(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    invoice = finalised(client, headers, "invoices")
    with httpx.Client(base_url=str(client.base_url)) as other:
        sign_up(other)
        other_headers = {"X-CSRF-Token": headers["X-CSRF-Token"]}
        assert other.get(f"/api/v1/invoices/{invoice['id']}").status_code == 404
        assert other.get(f"/api/v1/invoices/{invoice['id']}/pdf").status_code == 404
        from_other = other.post(
            f"/api/v1/invoices/{invoice['id']}/payments",
            json={"amount": "1"},
            headers=other_headers,
        )
        assert from_other.status_code in (403, 404)
        assert other.get("/api/v1/invoices").json()["items"] == []


def test_writes_without_csrf_are_refused(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    quote = draft(client, headers)
    response = client.post(f"/api/v1/quotes/{quote['id']}/finalise")
    assert response.status_code == 403
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "draft"


def test_concurrent_finalisations_give_contiguous_unique_numbers(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    lines = THREE_LINES[:1]
    ids = [draft(client, headers, "invoices", lines=lines)["id"] for _ in range(50)]

    def finalise(document_id: str) -> str:
        with httpx.Client(base_url=str(client.base_url), cookies=client.cookies, timeout=60) as c:
            response = c.post(f"/api/v1/invoices/{document_id}/finalise", headers=headers)
            assert response.status_code == 200, response.text
            number: str = response.json()["number"]
            return number

    with ThreadPoolExecutor(max_workers=50) as pool:
        numbers = list(pool.map(finalise, ids))
    assert sorted(numbers) == [f"INV-{YEAR}-{n:04d}" for n in range(1, 51)]
