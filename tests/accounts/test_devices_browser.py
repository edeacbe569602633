"""On a phone: an owner sees where they are signed in, signs every other device out, and
finds that in the audit trail with its filter."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.accounts import log_in, sign_up
from tests.support.browser import PHONE, assert_fits_phone, shot, signed_in

pytestmark = pytest.mark.browser

LAPTOP_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def test_an_owner_signs_out_everywhere_else_and_finds_it_in_the_trail_on_a_phone(
    browser: Browser, live_server: LiveServer
) -> None:
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as owner,
        httpx.Client(
            base_url=live_server.url, timeout=20, headers={"user-agent": LAPTOP_UA}
        ) as laptop,
    ):
        account = sign_up(owner)
        assert log_in(laptop, account.email).status_code == 303
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            page.goto("/settings/account#devices")
            devices = page.get_by_test_id("devices").locator("li")
            expect(devices).to_have_count(2)
            expect(devices.first).to_contain_text("This device")
            other = page.locator("[data-device]", has_text="Firefox on Linux")
            expect(other).to_contain_text("last used")
            expect(other).not_to_contain_text("This device")
            assert_fits_phone(page, "/settings/account")
            shot(page, "account-devices")

            page.get_by_role("button", name="Sign out everywhere else").click()
            expect(page.get_by_role("status")).to_contain_text("Every other device was signed out")
            expect(devices).to_have_count(1)
            expect(page.get_by_role("button", name="Sign out everywhere else")).to_have_count(0)
            assert laptop.get("/api/v1/me").status_code == 401, "ended on its next request"
            assert owner.get("/api/v1/me").status_code == 200

            page.get_by_role("link", name="Audit trail").click()
            expect(page).to_have_url(re.compile(r"/settings/audit$"))
            events = page.get_by_test_id("audit-events").locator("li")
            expect(events.first).to_contain_text("Signed out everywhere else")
            page.get_by_test_id("audit-action").select_option("sign_in")
            page.get_by_role("button", name="Filter").click()
            expect(page).to_have_url(re.compile(r"action=sign_in"))
            expect(events).to_have_count(1)
            expect(events.first).to_contain_text("Signed in")
            expect(events.first).to_contain_text("Firefox on Linux")
            assert_fits_phone(page, "/settings/audit")
            shot(page, "audit-trail")
            console.assert_clean()
        finally:
            context.close()
