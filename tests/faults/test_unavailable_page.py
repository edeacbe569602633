"""What a person sees on a phone when a server we need is out of reach: a page that says so in
plain words, with a way to try again, never a bare 500. (A web app whose Redis is not there:
the session it needs to know who is signed in cannot be read.)"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer, StartServer, free_port
from tests.support.accounts import sign_up
from tests.support.browser import PHONE, assert_fits_phone, signed_in

pytestmark = pytest.mark.browser


def test_a_signed_in_page_without_redis_says_so_and_offers_to_try_again(
    browser: Browser, live_server: LiveServer, server_variant: StartServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as http:
        sign_up(http)
        # The same app and secret, its Redis gone: the session cookie is good, its store not.
        cut_off = server_variant(redis_url=f"redis://127.0.0.1:{free_port()}/0")
        context, page, console = signed_in(browser, cut_off.url, http, PHONE)
    try:
        console.expect_status(503)
        response = page.goto("/inbox")
        assert response is not None and response.status == 503
        assert (response.headers.get("retry-after") or "").isdigit()
        expect(page.get_by_role("heading", name="Back in a moment")).to_be_visible()
        expect(page.get_by_role("alert")).to_have_text(
            "We can't reach our sign-in and live-update service; your work is safe, "
            "try again in a moment."
        )
        assert_fits_phone(page, "/inbox")
        page.get_by_role("link", name="Try again").click()
        expect(page).to_have_url(f"{cut_off.url}/inbox")
        expect(page.get_by_role("alert")).to_contain_text("try again in a moment")
        console.assert_clean()
    finally:
        context.close()
