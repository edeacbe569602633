"""Everyday actions in a browser: messaging a contact first (phone), the contact's quotes and
invoices (desktop), the accountant's export with a date range, and the team page's table of
who may do what (both sizes)."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer, StandinServer
from tests.support.browser import DESKTOP, PHONE, signed_in
from tests.support.documents import draft, finalised, vat_business
from tests.support.reminders import business_today
from tests.support.whatsapp import connect_channel, sa_mobile

pytestmark = pytest.mark.browser


def test_messaging_a_contact_first_opens_the_template_picker(
    browser: Browser, live_server: LiveServer, standin: StandinServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        _, headers = vat_business(owner)
        connect_channel(owner, standin)
        phone = sa_mobile()
        quote = finalised(owner, headers, phone=phone, name="Zanele First")
        invoice = finalised(owner, headers, "invoices", phone=phone, name="Zanele First")
        for viewport in (PHONE, DESKTOP):
            context, page, console = signed_in(browser, live_server.url, owner, viewport)
            try:
                page.goto(f"/contacts/{quote['contact_id']}")
                documents = page.get_by_test_id("contact-documents")
                expect(documents).to_contain_text(quote["number"])
                expect(documents).to_contain_text(invoice["number"])
                assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
                page.get_by_test_id("message-contact").click()
                expect(page).to_have_url(re.compile(r"/inbox/[0-9a-f-]{36}$"))
                # She never wrote: WhatsApp allows only an approved template, and the page says so.
                expect(page.get_by_test_id("template-picker")).to_be_visible()
                console.assert_clean()
            finally:
                context.close()


def test_the_accountant_exports_a_date_range_and_the_team_table_reads_on_both_sizes(
    browser: Browser, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        _, headers = vat_business(owner)
        today = business_today()
        old = finalised(
            owner, headers, "invoices", issue_date=(today - timedelta(days=40)).isoformat()
        )
        recent = finalised(owner, headers, "invoices")
        draft(owner, headers, "invoices", job_description="Service the pool pump")
        for viewport in (DESKTOP, PHONE):
            context, page, console = signed_in(
                browser, live_server.url, owner, viewport, accept_downloads=True
            )
            try:
                page.goto("/invoices")
                # A draft says whose it is and what the job is; it is not in the books.
                draft_row = page.get_by_test_id("document-row").filter(has_text="Draft")
                expect(draft_row.get_by_test_id("document-job")).to_have_text(
                    "Service the pool pump"
                )
                page.locator("input[name=date_from]").fill((today - timedelta(days=7)).isoformat())
                page.locator("input[name=date_to]").fill(today.isoformat())
                with page.expect_download() as download:
                    page.get_by_test_id("export-csv").click()
                path = download.value.path()
                rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
                numbers = {cell for row in rows[1:] for cell in row}
                assert recent["number"] in numbers and old["number"] not in numbers
                page.goto("/settings/team")
                table = page.get_by_test_id("permissions")
                expect(table).to_contain_text("Void an invoice or issue a credit note")
                row = table.locator('[data-permission="correct_invoices"]')
                expect(row.locator('[data-role="agent"]')).to_have_text("No")
                assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
                console.assert_clean()
            finally:
                context.close()
