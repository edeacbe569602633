"""An owner on a 360 px phone adds a webhook for Zapier, copies its secret, sends a test
event, and sees it delivered in the log: the page's own forms, the real delivery job and a
real receiver on loopback."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from standardwebhooks.webhooks import Webhook

from tests.conftest import LiveServer
from tests.integrations.conftest import (  # the receiver fixtures, shared with the API tests
    Receiver,
    receiver,  # noqa: F401
    receiver_server,  # noqa: F401
    run_jobs,
)
from tests.support.accounts import sign_up
from tests.support.browser import PHONE, shot, signed_in

pytestmark = pytest.mark.browser

PAGE = "/settings/integrations"
# No sideways scrolling, and every control a 44 px tap target: a checkbox counts by its label,
# which is what a thumb taps (the app's checkboxes are 20 px boxes in a 44 px label).
SMALL_TARGETS = """() => [...document.querySelectorAll('main button, main input:not([type=hidden])')]
  .filter(el => el.offsetParent !== null)
  .map(el => el.type === 'checkbox' ? el.closest('label') : el)
  .filter(el => el.getBoundingClientRect().height < 44)
  .map(el => el.outerHTML.slice(0, 80))"""


def assert_fits_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{PAGE} scrolls sideways ({width}px)"
    assert page.evaluate(SMALL_TARGETS) == []


def test_owner_adds_a_webhook_on_a_phone_and_sees_a_delivery_in_the_log(
    browser: Browser,
    live_server: LiveServer,
    client: httpx.Client,
    receiver: Receiver,  # noqa: F811
) -> None:
    sign_up(client)
    context, page, console = signed_in(browser, live_server.url, client, PHONE)
    page.goto("/settings/account")
    page.get_by_role("link", name="Integrations").click()
    expect(page).to_have_url(f"{live_server.url}{PAGE}")
    expect(page.get_by_test_id("no-webhooks")).to_be_visible()
    assert_fits_phone(page)

    page.get_by_label("URL").fill(f"{receiver.url}/hooks/catch/123/abc/")
    page.get_by_label("Name (optional)").fill("Zapier: new quotes to the sheet")
    page.get_by_role("checkbox", name="A new lead").uncheck()
    page.get_by_role("button", name="Add webhook").click()

    secret = page.get_by_label("Signing secret")
    expect(page.get_by_test_id("new-secret")).to_contain_text("shown only once")
    whsec = secret.input_value()
    assert whsec.startswith("whsec_")
    webhooks = page.get_by_test_id("webhooks")
    expect(webhooks).to_contain_text("Zapier: new quotes to the sheet")
    expect(webhooks).not_to_contain_text("lead.created")
    assert_fits_phone(page)
    shot(page, "integrations-added")

    page.get_by_test_id("send-test").click()
    expect(page.get_by_test_id("saved")).to_contain_text("test event is on its way")
    run_jobs(live_server.settings)
    page.reload()

    log = page.get_by_test_id("delivery-log")
    expect(log.locator("li")).to_have_count(1)
    expect(log).to_contain_text("webhook.test")
    expect(log.get_by_test_id("delivery-status")).to_have_text("Delivered")
    expect(log).to_contain_text("1 attempt · HTTP 200")
    assert_fits_phone(page)
    shot(page, "integrations-log")
    [request] = receiver.at("/hooks/catch/123/abc/")
    assert Webhook(whsec).verify(request.body, request.headers)["type"] == "webhook.test"
    # The secret is not on the page any more.
    expect(page.get_by_test_id("new-secret")).to_have_count(0)
    console.assert_clean()
    context.close()
