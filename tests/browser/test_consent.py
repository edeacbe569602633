"""A contact's marketing consent on a 360 px phone: the customer replied STOP, the page shows
the state and its history, and a member records the opt-in they gave on the phone."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from clientcompass import jobs
from clientcompass.contacts import consent
from tests.conftest import LiveServer, StandinServer
from tests.support.browser import PHONE, assert_fits_phone, shot, signed_in
from tests.support.shop import shop_with_customer
from tests.support.whatsapp import customer_says

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def consent_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Until the lead wires it into jobs.INBOUND_HANDLERS, the test's job runs add it."""
    if consent.on_inbound not in jobs.INBOUND_HANDLERS:
        monkeypatch.setattr(jobs, "INBOUND_HANDLERS", (*jobs.INBOUND_HANDLERS, consent.on_inbound))
    yield


def test_the_contact_page_shows_consent_and_its_history_on_a_phone(
    browser: Browser, live_server: LiveServer, standin: StandinServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        shop = shop_with_customer(owner, standin)
        customer_says(standin, shop.channel, shop.phone, "Stop.")
        live_server.run_jobs()
        contact = next(c for c in owner.get("/api/v1/contacts").json() if c["phone"] == shop.phone)
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            page.goto(f"/contacts/{contact['id']}")
            section = page.get_by_test_id("marketing-consent")
            expect(page.get_by_test_id("consent-state")).to_contain_text("Opted out")
            expect(page.get_by_test_id("consent-state")).to_contain_text("(replied STOP)")
            expect(page.get_by_test_id("consent-history")).to_contain_text("Replied STOP")
            section.scroll_into_view_if_needed()
            assert_fits_phone(page, "/contacts/{id}#marketing")

            console.expect_status(422)
            page.get_by_test_id("record-consent").click()
            expect(section.locator(".error")).to_contain_text("Say why")
            section.locator('[name="reason"]').fill("Called to say offers are welcome again")
            page.get_by_test_id("record-consent").click()
            expect(page.get_by_role("status")).to_contain_text("Marketing consent recorded.")
            expect(page.get_by_test_id("consent-state")).to_contain_text("Opted in")
            lines = page.get_by_test_id("consent-history").locator("li")
            expect(lines).to_have_count(2)
            expect(lines.first).to_contain_text("Recorded by Thandi")
            expect(lines.first).to_contain_text("Called to say offers are welcome again")
            assert_fits_phone(page, "/contacts/{id}#marketing")
            section.scroll_into_view_if_needed()
            shot(page, "contact-consent")
            console.assert_clean()
        finally:
            context.close()
