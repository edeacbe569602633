"""Erasing a customer on a 360 px phone: from the contact page to the confirmation page that
says what goes and what a tax invoice keeps (the legal hold), a wrong password first, then
the erasure."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer, StandinServer
from tests.erasure.support import customer_with_history, found_in_database
from tests.support.accounts import PASSWORD
from tests.support.browser import PHONE, assert_fits_phone, shot, signed_in

pytestmark = pytest.mark.browser


def test_erase_a_customer_from_the_contact_page_on_a_phone(
    browser: Browser,
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        customer = customer_with_history(owner, live_server, standin)
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            page.goto(f"/contacts/{customer.contact_id}")
            expect(page.get_by_test_id("contact-name")).to_have_text(customer.name)
            button = page.get_by_test_id("erase-contact")
            button.scroll_into_view_if_needed()
            assert_fits_phone(page, "/contacts/{id}")
            button.click()

            expect(page).to_have_url(f"{live_server.url}/contacts/{customer.contact_id}/erase")
            removed = page.get_by_test_id("erase-removed")
            expect(removed).to_contain_text("phone number")
            expect(removed).to_contain_text("Your team's notes")
            explanation = page.get_by_test_id("legal-hold-explanation")
            expect(explanation).to_contain_text("5 years from the date of issue")
            expect(explanation).to_contain_text("legal hold")
            held = page.get_by_test_id("held-documents")
            expect(held).to_contain_text(f"Invoice {customer.invoice['number']}")
            expect(held).to_contain_text("held until")
            assert_fits_phone(page, "/contacts/{id}/erase")
            shot(page, "erase-confirm")

            console.expect_status(422)
            page.locator('[name="password"]').fill("not my password")
            page.get_by_test_id("erase-submit").click()
            expect(page.locator(".error")).to_contain_text("not your current password")
            assert found_in_database(owner_conn, customer.account.tenant_id, customer.needles)

            page.locator('[name="password"]').fill(PASSWORD)
            page.get_by_test_id("erase-submit").click()
            done = page.get_by_test_id("erase-done")
            expect(done).to_contain_text("personal data was erased")
            expect(page.get_by_test_id("held-count")).to_contain_text("legal hold")
            assert_fits_phone(page, "/contacts/{id}/erase (done)")
            shot(page, "erase-done")

            page.get_by_role("link", name="Back to the contact").click()
            expect(page.get_by_test_id("contact-name")).to_have_text("Erased customer")
            expect(page.get_by_test_id("contact-details")).not_to_contain_text(customer.email)
            console.assert_clean()
        finally:
            context.close()
    assert found_in_database(owner_conn, customer.account.tenant_id, customer.needles) == []
