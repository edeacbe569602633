"""The business profile and a quote's lines as a new owner meets them, on a 360 px phone and a
desktop: the time zone picked from a list (Johannesburg first), and no select whose chosen
text is cut off (a line's "Standard 15%" VAT was)."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.conftest import LiveServer
from tests.support.accounts import unique_email
from tests.support.browser import DESKTOP, PHONE, assert_fits_phone, new_page, shot, sign_up

pytestmark = pytest.mark.browser
# Room the select's own arrow takes beside its text, past the padding.
ARROW = 16
CUT_OFF_SELECTS = """arrow => [...document.querySelectorAll('main select')]
  .filter(select => select.offsetParent !== null && select.selectedIndex >= 0)
  .map(select => {
    const style = getComputedStyle(select);
    const ruler = document.createElement('canvas').getContext('2d');
    ruler.font = style.font;
    const text = select.options[select.selectedIndex].text;
    const needed = ruler.measureText(text).width + parseFloat(style.paddingLeft)
      + parseFloat(style.paddingRight) + arrow;
    return {name: select.name, text, needed: Math.ceil(needed), width: select.clientWidth};
  })
  .filter(select => select.needed > select.width)"""


def assert_no_select_cut_off(page: Page, path: str) -> None:
    cut = page.evaluate(CUT_OFF_SELECTS, ARROW)
    assert cut == [], f"{path}: selects too narrow for their text: {cut}"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_owner_picks_the_time_zone_and_every_select_shows_its_choice(
    browser: Browser, live_server: LiveServer, viewport: ViewportSize
) -> None:
    context, page, console = new_page(browser, live_server.url, viewport)
    sign_up(page, unique_email("zone"), f"Naidoo Electrical {uuid.uuid4().hex[:4]}")

    zone = page.get_by_label("Time zone")
    expect(zone).to_have_js_property("tagName", "SELECT")
    expect(zone).to_have_value("Africa/Johannesburg")
    expect(zone.locator("option").first).to_have_text("Africa/Johannesburg")
    assert_no_select_cut_off(page, "/settings/business")
    if viewport == PHONE:
        assert_fits_phone(page, "/settings/business")
    shot(page, "business-profile")

    # VAT registered, so each quote line offers its VAT treatment; and a zone of another area.
    page.locator('input[name="vat_number"]').fill("4123456789")
    page.locator('textarea[name="physical_address"]').fill("3 Jan Smuts Avenue\nRosebank")
    zone.select_option("Indian/Mauritius")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_test_id("saved")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Time zone")).to_have_value("Indian/Mauritius")
    assert_no_select_cut_off(page, "/settings/business")

    page.goto("/quotes/new")
    expect(page.locator('select[name="lines.0.vat"]')).to_have_value("standard")
    assert_no_select_cut_off(page, "/quotes/new")
    if viewport == PHONE:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.locator('select[name="lines.0.vat"]').scroll_into_view_if_needed()
    shot(page, "quote-line-vat")
    console.assert_clean()
    context.close()
