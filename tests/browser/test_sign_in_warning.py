"""On a phone too, the last wrong password before the lock warns, and a completed reset
lifts a lock (the lock message offers it)."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer, MailSink
from tests.support.accounts import PASSWORD, sign_up
from tests.support.browser import PHONE, fill, new_page

pytestmark = pytest.mark.browser


def test_the_warning_and_the_reset_on_a_phone(
    browser: Browser, live_server: LiveServer, mail_sink: MailSink
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as http:
        email = sign_up(http).email
    context, page, console = new_page(browser, live_server.url, PHONE)
    try:
        page.set_extra_http_headers({"X-Forwarded-For": "198.51.100.78"})  # its own address
        console.expect_status(401)
        console.expect_status(429)
        page.goto("/login")
        for _ in range(live_server.settings.login_max_failures_per_account):
            fill(page, {"email": email, "password": "not the password"})
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("alert")).to_be_visible()
            if "One more wrong try" in page.get_by_role("alert").inner_text():
                break
        expect(page.get_by_role("alert")).to_contain_text("One more wrong try locks sign-in")
        fill(page, {"email": email, "password": "still not it"})
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("reset your password")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        page.goto("/forgot-password")
        fill(page, {"email": email})
        page.get_by_role("button", name="Send reset link").click()
        expect(page.locator("main")).to_contain_text(re.compile("email|sent", re.I))
        live_server.run_jobs()  # the email goes out from a job
        link = re.search(r"http\S+(/reset-password\?token=\S+)", mail_sink.wait_for(email))
        assert link is not None
        page.goto(link.group(1))
        fill(page, {"password": PASSWORD, "password_confirm": PASSWORD})
        page.get_by_role("button", name="Save password").click()
        page.goto("/login")
        fill(page, {"email": email, "password": PASSWORD})
        page.get_by_role("button", name="Sign in").click()
        expect(page).not_to_have_url(re.compile(r"/login"))
        console.assert_clean()
    finally:
        context.close()
