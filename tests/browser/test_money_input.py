"""Money typed the South African way is read the same everywhere: a payment of "R1 150,00"
is recorded, and a bad amount is refused in plain words with nothing recorded (phone and
desktop)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.browser import DESKTOP, PHONE, signed_in
from tests.support.documents import finalised, vat_business

pytestmark = pytest.mark.browser


def test_a_payment_typed_as_r1_150_00_is_recorded_and_nonsense_is_refused_plainly(
    browser: Browser, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        _, headers = vat_business(owner)
        for viewport in (PHONE, DESKTOP):
            invoice = finalised(owner, headers, "invoices")
            context, page, console = signed_in(browser, live_server.url, owner, viewport)
            try:
                page.goto(f"/invoices/{invoice['id']}")
                console.expect_status(422)  # the refused amount comes back as a form error
                page.get_by_test_id("payment-amount").fill("twelve rand")
                page.get_by_test_id("record-payment").click()
                expect(page.locator("main")).to_contain_text("Type an amount like 1 150,00.")
                expect(page.locator("main")).not_to_contain_text("valid decimal")
                assert owner.get(f"/api/v1/invoices/{invoice['id']}").json()["payments"] == []
                page.get_by_test_id("payment-amount").fill("R1 150,00")
                page.get_by_test_id("record-payment").click()
                expect(page.get_by_test_id("notice")).to_have_text("Payment recorded.")
                paid = owner.get(f"/api/v1/invoices/{invoice['id']}").json()["payments"]
                assert [p["amount_cents"] for p in paid] == [115000]
                console.assert_clean()
            finally:
                context.close()
