"""A quote converted to a tax invoice shows the business's invoice terms, not the quote's, as
the owner sees it on the invoice page (phone and desktop)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.browser import DESKTOP, PHONE, signed_in
from tests.support.documents import finalised, vat_business

pytestmark = pytest.mark.browser
QUOTE_TERMS = "Quote valid for 14 days. 50% deposit on parts."


def test_the_converted_invoice_shows_invoice_terms(
    browser: Browser, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        _, headers = vat_business(owner)
        for viewport in (PHONE, DESKTOP):
            quote = finalised(owner, headers, terms=QUOTE_TERMS, notes="Gate code 1234")
            owner.post(f"/api/v1/quotes/{quote['id']}/accept", headers=headers)
            context, page, console = signed_in(browser, live_server.url, owner, viewport)
            try:
                page.goto(f"/quotes/{quote['id']}")
                page.get_by_test_id("convert").click()
                expect(page).to_have_url(re.compile(r"/invoices/[0-9a-f-]{36}\?done=converted$"))
                main = page.locator("main")
                expect(main).to_contain_text("Payment due within 7 days.")
                expect(main).to_contain_text("Gate code 1234")
                expect(main).not_to_contain_text("Quote valid for 14 days")
                console.assert_clean()
            finally:
                context.close()
