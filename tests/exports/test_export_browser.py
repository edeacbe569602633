"""An owner on a phone (360 px) exports the business: starts it, watches its progress on the
page (htmx polling, no reload), and downloads the ZIP from the link that appears."""

from __future__ import annotations

import os
import zipfile

import httpx
import pytest
from playwright.sync_api import Browser, expect

from clientcompass.web.limits import readable_size
from tests.conftest import LiveServer
from tests.support.browser import PHONE, signed_in
from tests.support.documents import finalised, vat_business
from tests.support.worker import running_worker

pytestmark = pytest.mark.browser


def test_an_owner_exports_the_business_on_a_phone(
    browser: Browser, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        _, headers = vat_business(owner)
        invoice = finalised(owner, headers, "invoices")
        context, page, console = signed_in(
            browser, live_server.url, owner, PHONE, accept_downloads=True
        )
        try:
            page.goto("/settings/account")
            page.get_by_role("link", name="Data export").click()
            expect(page).to_have_url(f"{live_server.url}/settings/export")
            page.get_by_test_id("start-export").click()
            expect(page.get_by_test_id("export-started")).to_be_visible()
            row = page.get_by_test_id("export-row").first
            # No worker yet: the page says the export waits, and keeps asking.
            expect(row).to_contain_text("Waiting for a free worker")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            with running_worker(live_server.settings):
                link = page.get_by_test_id("export-download")
                expect(link).to_be_visible(timeout=30_000)
            expect(row).to_have_attribute("data-status", "ready")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            with page.expect_download() as download:
                link.click()
            with zipfile.ZipFile(download.value.path()) as archive:
                names = archive.namelist()
            size = os.path.getsize(download.value.path())
            expect(link).to_contain_text(f"Download ZIP ({readable_size(size)})")
            assert "data/contacts.json" in names
            assert any(invoice["number"] in name for name in names if name.endswith(".pdf"))
            console.assert_clean()
        finally:
            context.close()
