"""On a phone: an owner closes the business from its settings with the password, lands on the
signed-out page, and the app no longer lets them in; the reopen link brings it back."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from clientcompass.lifecycle import closure
from tests.closure.helpers import reopen_token
from tests.conftest import LiveServer, MailSink
from tests.support.accounts import PASSWORD, sign_up
from tests.support.browser import PHONE, assert_fits_phone, shot, signed_in

pytestmark = pytest.mark.browser


def test_an_owner_closes_the_business_on_a_phone(
    browser: Browser, live_server: LiveServer, mail_sink: MailSink
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        account = sign_up(owner)
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            page.goto("/settings/business")
            page.get_by_test_id("close-business-link").click()
            expect(page).to_have_url(re.compile(r"/settings/close$"))
            expect(page.get_by_test_id("close-business")).to_contain_text(
                f"For {closure.GRACE_DAYS} days you can change your mind"
            )
            assert_fits_phone(page, "/settings/close")
            shot(page, "close-business")

            console.expect_status(422)
            page.get_by_label("Your password").fill("not my password")
            page.get_by_test_id("close-business-submit").click()
            expect(page.locator("#err-password")).to_have_text("That is not your current password.")
            assert owner.get("/api/v1/me").status_code == 200, "a wrong password closes nothing"

            page.get_by_label("Your password").fill(PASSWORD)
            page.get_by_test_id("close-business-submit").click()
            expect(page.get_by_test_id("business-closed")).to_contain_text("You are signed out")
            assert_fits_phone(page, "/settings/close (done)")
            shot(page, "business-closed")
            assert owner.get("/api/v1/me").status_code == 401

            console.expect_status(401)
            page.goto("/inbox")
            expect(page).to_have_url(re.compile(r"/login"))

            token = reopen_token(live_server, mail_sink, account.email)
            page.goto(f"/reopen?token={token}")
            assert_fits_phone(page, "/reopen")
            page.get_by_test_id("reopen-submit").click()
            expect(page.get_by_test_id("business-reopened")).to_contain_text("open again")
            console.assert_clean()
        finally:
            context.close()
