"""What a new user trips over, in a real browser on a 360 px phone and a desktop:

- a reply typed, or a quote half built, when the session ends is not lost: the send says
  "You were signed out", signing in comes back to the same page with the text restored,
  and a successful send clears the kept draft;
- logging out on purpose leaves no draft behind on the device;
- a thread's history speaks to its reader ("You assigned this to yourself");
- a form's errors are summed up at the top of the page, each a link to its field.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import PASSWORD, Account, sign_up
from tests.support.browser import DESKTOP, PHONE, assert_fits_phone, shot, signed_in
from tests.support.forms import page_csrf
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

pytestmark = pytest.mark.browser
VIEWPORTS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


def sign_out_elsewhere(http: httpx.Client) -> None:
    """ "Log out everywhere" from another device: the browser still holds its cookie."""
    ended = http.post(
        "/logout-everywhere", data={"csrf_token": page_csrf(http, "/settings/account")}
    )
    assert ended.status_code == 303


def sign_in_again(page: Page, account: Account) -> None:
    expect(page).to_have_url(re.compile(r"/login\?.*signed_out=session"))
    expect(page.get_by_test_id("signed-out")).to_contain_text("You were signed out")
    expect(page.get_by_text("This form has expired")).to_have_count(0)
    page.locator('input[name="email"]').fill(account.email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@VIEWPORTS
def test_a_reply_typed_when_the_session_ends_comes_back_after_signing_in(
    browser: Browser, live_server: LiveServer, standin: StandinServer, viewport: ViewportSize
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as http:
        account = sign_up(http)
        channel = connect_channel(http, standin)
        phone = sa_mobile()
        customer_says(standin, channel, phone, "Is the plumber coming today?")
        cid = conversation_with(http, phone)["id"]
        context, page, console = signed_in(browser, live_server.url, http, viewport)
        path = f"/inbox/{cid}"
        page.goto(path)

        # The thread speaks to its reader.
        expect(page.locator("[data-inbox]")).to_have_attribute("data-live", "on")
        page.get_by_test_id("assignee-select").select_option(str(account.user_id))
        expect(page.get_by_test_id("system-event").last).to_contain_text(
            "You assigned this to yourself"
        )

        reply = "On our way, 20 minutes"
        page.get_by_test_id("reply").fill(reply)
        sign_out_elsewhere(http)
        page.locator("[data-send]").click()
        sign_in_again(page, account)

        expect(page).to_have_url(re.compile(rf"{path}$"))
        expect(page.get_by_test_id("reply")).to_have_value(reply)
        expect(page.get_by_test_id("draft-restored")).to_be_visible()
        if viewport == PHONE:
            assert_fits_phone(page, path)
        shot(page, "draft-restored")

        # Sent at last: the draft is gone, also after a reload.
        page.locator("[data-send]").click()
        expect(page).to_have_url(re.compile(rf"{path}$"))
        expect(page.get_by_test_id("thread").locator(".bubble.out")).to_contain_text(reply)
        expect(page.get_by_test_id("reply")).to_have_value("")
        page.reload()
        expect(page.get_by_test_id("reply")).to_have_value("")
        expect(page.get_by_test_id("draft-restored")).to_have_count(0)

        # Logging out here on purpose leaves nothing typed behind on a shared device.
        page.get_by_test_id("reply").fill("Private: gate code 4521")
        page.get_by_test_id("logout").click()
        expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
        assert page.evaluate("Object.keys(localStorage)") == []
        console.assert_clean()
        context.close()


@VIEWPORTS
def test_a_half_built_quote_survives_the_session_ending(
    browser: Browser, live_server: LiveServer, viewport: ViewportSize
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as http:
        account = sign_up(http)
        context, page, console = signed_in(browser, live_server.url, http, viewport)
        page.goto("/quotes/new")
        page.get_by_test_id("new-contact-name").fill("Zoë van der Walt")
        page.get_by_test_id("add-line").click()
        lines = page.locator("[data-line]")
        expect(lines).to_have_count(2)
        for index, (description, quantity, price) in enumerate(
            [("Geyser element", "1", "650"), ("Call-out", "2", "450,50")]
        ):
            lines.nth(index).get_by_test_id("line-description").fill(description)
            lines.nth(index).get_by_test_id("line-quantity").fill(quantity)
            lines.nth(index).get_by_test_id("line-price").fill(price)

        # Let the live totals (htmx, 400 ms after typing) settle, so the Save below is what
        # meets the ended session.
        page.keyboard.press("Tab")
        page.wait_for_timeout(1000)
        sign_out_elsewhere(http)
        page.get_by_test_id("save-draft").click()
        sign_in_again(page, account)

        expect(page).to_have_url(re.compile(r"/quotes/new$"))
        expect(page.get_by_test_id("draft-restored")).to_be_visible()
        expect(page.get_by_test_id("new-contact-name")).to_have_value("Zoë van der Walt")
        expect(lines).to_have_count(2)
        expect(lines.nth(1).get_by_test_id("line-description")).to_have_value("Call-out")
        expect(lines.nth(1).get_by_test_id("line-price")).to_have_value("450,50")
        if viewport == PHONE:
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        console.assert_clean()
        context.close()


@VIEWPORTS
def test_the_error_summary_leads_to_a_field_below_the_fold(
    browser: Browser, live_server: LiveServer, viewport: ViewportSize
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as http:
        sign_up(http)
        context, page, console = signed_in(browser, live_server.url, http, viewport)
        page.goto("/settings/business")
        page.locator('input[name="logo"]').set_input_files(
            files=[{"name": "logo.txt", "mimeType": "text/plain", "buffer": b"not a picture"}]
        )
        console.expect_status(422)
        page.get_by_role("button", name="Save profile").click()
        summary = page.get_by_test_id("error-summary")
        expect(summary).to_be_in_viewport()
        link = summary.get_by_role("link")
        expect(link).to_have_count(1)
        expect(link).to_contain_text("Logo")
        link.click()
        expect(page.locator('input[name="logo"]')).to_be_focused()
        expect(page.locator('input[name="logo"]')).to_be_in_viewport()
        if viewport == PHONE:
            assert_fits_phone(page, "/settings/business")
        shot(page, "error-summary")
        console.assert_clean()
        context.close()
