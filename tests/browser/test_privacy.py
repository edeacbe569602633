"""On a 360 px phone: the privacy policy reads without sideways scrolling, and a person on an
older version sees the notice once; "I've read it" takes it away for good."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.accounts import sign_up
from tests.support.browser import PHONE, assert_fits_phone, shot, signed_in

pytestmark = pytest.mark.browser


def test_the_policy_on_a_phone_and_the_notice_of_a_new_version(
    browser: Browser, live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as http:
        account = sign_up(http)
        owner_conn.execute(
            "update users set policy_version = '2020-01-01' where id = %s", (account.user_id,)
        )
        context, page, console = signed_in(browser, live_server.url, http, PHONE)
    try:
        page.goto("/privacy")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Privacy Policy")
        expect(page.get_by_text("Information Officer (POPIA)")).to_be_visible()
        assert_fits_phone(page, "/privacy")
        shot(page, "privacy")

        page.goto("/inbox")
        notice = page.get_by_test_id("policy-notice")
        expect(notice).to_be_visible()
        expect(notice.get_by_role("link", name="Read the new version")).to_be_visible()
        assert_fits_phone(page, "/inbox")
        shot(page, "policy-notice")
        notice.get_by_role("button", name="I've read it").click()
        expect(notice).to_have_count(0)
        page.goto("/contacts")
        expect(page.get_by_role("link", name="Privacy policy")).to_be_visible()
        expect(page.get_by_test_id("policy-notice")).to_have_count(0)
        console.assert_clean()
    finally:
        context.close()
