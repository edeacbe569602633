"""Two rough edges a new user saw: the canned-responses page's items (fields narrower than
their card, buttons adrift) and a credit-note section that did not look like it opens."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.browser import DESKTOP, PHONE, signed_in
from tests.support.documents import finalised, vat_business
from tests.support.forms import api_headers

pytestmark = pytest.mark.browser


def test_canned_items_fill_their_card_and_the_credit_note_says_it_opens(
    browser: Browser, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        _, headers = vat_business(owner)
        owner.post(
            "/api/v1/canned-responses",
            json={"shortcut": "eta", "body": "We are on our way."},
            headers=api_headers(owner),
        )
        invoice = finalised(owner, headers, "invoices")
        for viewport in (PHONE, DESKTOP):
            context, page, console = signed_in(browser, live_server.url, owner, viewport)
            try:
                page.goto("/inbox/canned")
                item = page.get_by_test_id("canned-item").first
                card = item.bounding_box()
                field = item.locator("textarea").bounding_box()
                assert card is not None and field is not None
                assert field["width"] >= card["width"] * 0.85, "the reply field fills its card"
                delete = item.get_by_test_id("delete-canned")
                save = item.get_by_role("button", name="Save")
                expect(delete).to_be_visible()
                box, save_box = delete.bounding_box(), save.bounding_box()
                assert box is not None and save_box is not None
                assert box["y"] < card["y"] + card["height"] and box["x"] >= card["x"]
                assert abs(box["y"] - save_box["y"]) < 8, "Save and Delete sit side by side"

                page.goto(f"/invoices/{invoice['id']}")
                summary = page.locator("#credit summary")
                expect(summary).to_be_visible()
                label = summary.evaluate("s => getComputedStyle(s, '::after').content")
                assert "Open" in label
                summary.click()
                expect(page.get_by_test_id("credit-form")).to_be_visible()
                console.assert_clean()
            finally:
                context.close()
