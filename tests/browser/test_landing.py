"""A new visitor in a real browser, on a 360 px phone and a desktop: the product page at `/`
and its way in, the data-deletion notice and its way back, and the icon in the tab."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Response, ViewportSize, expect

from tests.conftest import LiveServer
from tests.support.accounts import sign_up
from tests.support.browser import DESKTOP, PHONE, assert_fits_phone, new_page, shot, signed_in

pytestmark = pytest.mark.browser
# The whole first page, cold: HTML, stylesheet and icon, compressed. No script is needed.
LANDING_BUDGET = 16_000
FEATURES = [
    "A shared WhatsApp inbox",
    "Contacts",
    "Quotes and invoices as PDFs on WhatsApp",
    "Try it without Twilio",
]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_visitor_learns_what_this_is_and_finds_the_way_in(
    browser: Browser, live_server: LiveServer, viewport: ViewportSize
) -> None:
    context, page, console = new_page(browser, live_server.url, viewport)
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("WhatsApp")
    for feature in FEATURES:
        expect(page.get_by_role("heading", name=feature)).to_be_visible()
    expect(page.get_by_test_id("sign-up")).to_be_visible()
    expect(page.get_by_test_id("sign-in")).to_be_visible()
    page.wait_for_load_state("load")
    if viewport == PHONE:
        assert_fits_phone(page, "/")
    shot(page, "landing")

    origins = {urlsplit(response.url).netloc for response in responses}
    assert origins == {urlsplit(live_server.url).netloc}, origins
    assert not [r.url for r in responses if r.request.resource_type == "script"]
    moved = sum(
        sizes["responseBodySize"] + sizes["responseHeadersSize"]
        for sizes in (response.request.sizes() for response in responses)
    )
    assert moved <= LANDING_BUDGET, f"the landing page moved {moved} bytes"

    page.get_by_test_id("sign-up").click()
    expect(page).to_have_url(re.compile(r"/signup$"))
    page.go_back()
    page.get_by_test_id("sign-in").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    console.assert_clean()
    context.close()


def test_signed_in_the_address_still_opens_the_inbox(
    browser: Browser, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        sign_up(owner)
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/inbox$"))
        console.assert_clean()
        context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_deletion_notice_reads_right_and_leads_home(
    browser: Browser, live_server: LiveServer, viewport: ViewportSize
) -> None:
    context, page, console = new_page(browser, live_server.url, viewport)
    page.goto("/login")
    page.get_by_role("link", name="Your data and how to delete it").click()
    expect(page).to_have_url(re.compile(r"/deletion\.html$"))
    expect(page.locator("main")).to_contain_text("Client Compass Digital Solutions (Pty) Ltd")
    if viewport == PHONE:
        assert_fits_phone(page, "/deletion.html")
    shot(page, "deletion")
    page.get_by_role("link", name="Back to Client Compass").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_test_id("sign-up")).to_be_visible()
    console.assert_clean()
    context.close()


def test_the_tab_has_an_icon(browser: Browser, live_server: LiveServer) -> None:
    context, page, console = new_page(browser, live_server.url, DESKTOP)
    page.goto("/login")
    hrefs = page.locator('link[rel="icon"]').evaluate_all("links => links.map(l => l.href)")
    assert len(hrefs) == 2, hrefs
    for href in [*hrefs, f"{live_server.url}/favicon.ico"]:
        response = page.request.get(href)
        assert response.ok, href
        assert response.headers["content-type"].startswith("image/"), href
    console.assert_clean()
    context.close()
