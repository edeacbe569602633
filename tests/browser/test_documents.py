"""The quote-to-cash journey in a real browser, with the customer on the sandbox phone:
create a quote with three lines → finalise → send → the customer taps Accept on WhatsApp →
convert to invoice → a partial and then a full payment. The editor at 360 px, and the
customer accepting on the public link from a phone."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from clientcompass.config import Settings
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import unique_email
from tests.support.browser import DESKTOP, PHONE, in_own_browser, new_page, shot
from tests.support.browser import sign_up as sign_up_in_browser
from tests.support.documents import quote_for, token_for
from tests.support.waiting import wait_for
from tests.support.worker import running_worker

pytestmark = pytest.mark.browser
NBSP = "\u00a0"


def set_up_business(page: Page) -> None:
    """Sign up (lands on the business profile) and make the business VAT registered."""
    sign_up_in_browser(page, unique_email("quotes"), f"Mthembu Electrical {uuid.uuid4().hex[:4]}")
    page.locator('input[name="vat_number"]').fill("4123456789")
    page.locator('textarea[name="physical_address"]').fill("11 Nepeta Street\nKraaifontein")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_test_id("saved")).to_be_visible()


def fill_line(page: Page, index: int, description: str, quantity: str, price: str) -> None:
    line = page.locator("[data-line]").nth(index)
    line.get_by_test_id("line-description").fill(description)
    line.get_by_test_id("line-quantity").fill(quantity)
    line.get_by_test_id("line-price").fill(price)


def status(page: Page) -> str:
    return page.get_by_test_id("doc-status").get_attribute("data-status") or ""


def reload_until_status(page: Page, wanted: str) -> None:
    def reached() -> bool:
        page.reload()
        return status(page) == wanted

    wait_for(reached, timeout=30, message=f"status {wanted}")


def approve_when_reviewed(page: Page, standin: StandinServer) -> None:
    """The stand-in plays WhatsApp's review of the suggested template; wait for its verdict."""
    templates = json.loads(page.request.get("/api/v1/templates").text())
    [template] = [t for t in templates if t["name"] == "quote_with_pdf"]
    sid = template["content_sid"]
    content = standin.app.state.standin.contents[sid]
    token = standin.app.state.standin.accounts[content.account_sid].auth_token
    wait_for(
        lambda: (
            httpx.get(
                f"{standin.url}/v1/Content/{sid}/ApprovalRequests",
                auth=(content.account_sid, token),
                timeout=10,
            ).json()["whatsapp"]["status"]
            == "approved"
        ),
        message="the template's approval",
    )


@pytest.mark.browser
def test_quote_to_cash_with_the_customer_on_the_sandbox_phone(
    live_server: LiveServer, standin: StandinServer
) -> None:
    in_own_browser(lambda browser: quote_to_cash(browser, live_server, standin))


def quote_to_cash(browser: Browser, live_server: LiveServer, standin: StandinServer) -> None:
    with running_worker(live_server.settings):
        context, page, console = new_page(browser, live_server.url, DESKTOP)
        set_up_business(page)
        page.goto("/settings/whatsapp")
        page.get_by_role("button", name="Connect the sandbox").click()
        expect(page).to_have_url(re.compile(r"/sandbox$"))
        customer = page.get_by_test_id("customer-phone").inner_text()

        # A quote with three lines for the sandbox customer, created inline.
        page.goto("/quotes")
        page.get_by_test_id("new-document").click()
        expect(page).to_have_url(re.compile(r"/quotes/new$"))
        page.get_by_test_id("new-contact-name").fill("Nomvula Mthembu-Müller")
        page.get_by_test_id("new-contact-phone").fill(customer)
        page.get_by_test_id("job-description").fill("Replace the geyser element")
        fill_line(page, 0, "Call-out fee", "1", "450")
        page.get_by_test_id("add-line").click()
        page.get_by_test_id("add-line").click()
        expect(page.locator("[data-line]")).to_have_count(3)
        fill_line(page, 1, "Geyser element", "2", "389,99")
        fill_line(page, 2, "Labour", "2.5", "520")
        # 450 + 779.98 + 1300 = 2529.98 excl.; VAT 67.50 + 117.00 + 195.00 = 379.50.
        expect(page.get_by_test_id("live-total")).to_have_text(f"R{NBSP}2{NBSP}909,48")
        assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
        shot(page, "quote-editor")
        page.get_by_test_id("save-draft").click()
        expect(page).to_have_url(re.compile(r"/quotes/[0-9a-f-]{36}$"))
        quote_url = page.url
        assert status(page) == "draft"
        expect(page.get_by_test_id("doc-lines").locator("li")).to_have_count(3)
        expect(page.get_by_test_id("doc-total")).to_have_text(f"R{NBSP}2{NBSP}909,48")

        page.get_by_test_id("finalise").click()
        expect(page.get_by_test_id("doc-status")).to_have_attribute("data-status", "finalised")
        number = page.get_by_test_id("doc-number").inner_text()
        assert re.fullmatch(r"QUO-\d{4}-0001", number), number

        # The customer never wrote, so WhatsApp needs a template: one click creates it.
        expect(page.get_by_test_id("window-closed")).to_be_visible()
        page.get_by_test_id("create-template").click()
        expect(page.get_by_test_id("notice")).to_contain_text("suggested template was created")
        approve_when_reviewed(page, standin)
        page.get_by_test_id("send").click()
        expect(page.get_by_test_id("notice")).to_contain_text("Queued on WhatsApp")
        assert status(page) == "sent"
        shot(page, "quote")

        # On the sandbox phone the quote arrives with Accept and Decline; the customer accepts.
        phone = context.new_page()
        phone.goto("/sandbox")
        thread = phone.get_by_test_id("phone-thread")
        theirs = thread.locator('[data-from="business"]')
        expect(theirs.first).to_contain_text(f"your quote {number}", timeout=20_000)
        theirs.first.get_by_role("button", name="Accept").click()
        expect(theirs.filter(has_text="is accepted")).to_have_count(1, timeout=30_000)
        expect(theirs.filter(has_text="is accepted")).to_contain_text(
            f"Thank you! Quote {number} is accepted."
        )
        phone.close()

        page.goto(quote_url)
        reload_until_status(page, "accepted")
        expect(page.get_by_test_id("history")).to_contain_text("Accepted on WhatsApp")
        # The team is told in the inbox, in the customer's conversation.
        page.get_by_test_id("open-conversation").click()
        expect(page).to_have_url(re.compile(r"/inbox/[0-9a-f-]{36}$"))
        expect(page.locator("main")).to_contain_text(
            f"The customer accepted quote {number} on WhatsApp."
        )
        page.goto(quote_url)

        # One click turns it into an invoice; finalise it and take the money in two goes.
        page.get_by_test_id("convert").click()
        expect(page).to_have_url(re.compile(r"/invoices/[0-9a-f-]{36}\?done=converted$"))
        assert status(page) == "draft"
        page.get_by_test_id("finalise").click()
        expect(page.get_by_test_id("doc-status")).to_have_attribute("data-status", "finalised")
        expect(page.get_by_test_id("doc-number")).to_have_text(re.compile(r"INV-\d{4}-0001"))
        expect(page.get_by_test_id("doc-balance")).to_have_text(f"R{NBSP}2{NBSP}909,48")

        page.get_by_test_id("payment-amount").fill("1000")
        page.get_by_test_id("payment-method").select_option("eft")
        page.get_by_test_id("record-payment").click()
        expect(page.get_by_test_id("notice")).to_have_text("Payment recorded.")
        expect(page.get_by_test_id("doc-status")).to_have_attribute("data-status", "partially_paid")
        expect(page.get_by_test_id("doc-status")).to_have_text("Partially paid")
        expect(page.get_by_test_id("doc-balance")).to_have_text(f"R{NBSP}1{NBSP}909,48")

        page.get_by_test_id("payment-amount").fill("1909.48")
        page.get_by_test_id("payment-method").select_option("cash")
        page.get_by_test_id("record-payment").click()
        expect(page.get_by_test_id("doc-status")).to_have_attribute("data-status", "paid")
        expect(page.get_by_test_id("doc-status")).to_have_text("Paid")
        expect(page.get_by_test_id("doc-balance")).to_have_text(f"R{NBSP}0,00")
        expect(page.get_by_test_id("payment-form")).to_have_count(0)
        expect(page.get_by_test_id("payments").locator("li")).to_have_count(2)
        shot(page, "invoice")

        page.goto("/invoices")
        expect(page.get_by_test_id("document-row").first).to_have_attribute("data-status", "paid")
        expect(page.get_by_test_id("total-paid")).to_have_text(f"R{NBSP}2{NBSP}909,48")
        console.assert_clean()
        context.close()


@pytest.mark.browser
def test_the_quote_editor_fits_a_360px_phone(live_server: LiveServer) -> None:
    in_own_browser(lambda browser: editor_on_a_phone(browser, live_server))


def editor_on_a_phone(browser: Browser, live_server: LiveServer) -> None:
    context, page, console = new_page(browser, live_server.url, PHONE)
    sign_up_in_browser(page, unique_email("phone"), f"Phone Quotes {uuid.uuid4().hex[:4]}")
    page.goto("/quotes/new")
    page.get_by_test_id("add-line").click()
    expect(page.locator("[data-line]")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for testid in ("add-line", "save-draft"):
        box = page.get_by_test_id(testid).bounding_box()
        assert box is not None and box["height"] >= 44, (testid, box)
    remove = page.locator("[data-remove-line]").first.bounding_box()
    assert remove is not None and remove["height"] >= 44
    # A save with no customer comes back with the message and the lines as typed.
    fill_line(page, 0, "Geyser service", "1", "650")
    console.expect_status(422)
    page.get_by_test_id("save-draft").click()
    expect(page.get_by_test_id("form-error")).to_be_visible()
    expect(page.get_by_test_id("line-description").first).to_have_value("Geyser service")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "quote-editor")
    page.get_by_test_id("new-contact-name").fill("Zoë van der Walt")
    page.get_by_test_id("new-contact-phone").fill("082 555 0142")
    page.get_by_test_id("save-draft").click()
    expect(page).to_have_url(re.compile(r"/quotes/[0-9a-f-]{36}$"))
    expect(page.get_by_test_id("doc-status")).to_have_text("Draft")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finalise = page.get_by_test_id("finalise").bounding_box()
    assert finalise is not None and finalise["height"] >= 44
    shot(page, "quote-page")
    page.goto("/quotes")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    expect(page.get_by_test_id("document-row")).to_have_count(1)
    console.assert_clean()
    context.close()


@pytest.mark.browser
def test_customer_accepts_on_a_phone(
    client: httpx.Client, settings: Settings, live_server: LiveServer, browser: Browser
) -> None:
    quote, _ = quote_for(client)
    token = token_for(settings, quote)
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-ZA")
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"/d/{token}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(quote["number"])
        expect(page.get_by_text("Nomvula Mthembu-Müller")).to_be_visible()
        expect(page.get_by_test_id("status")).to_have_text("Viewed")
        shot(page, "public-quote")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways ({width}px)"
        page.get_by_role("button", name="Accept quote").click()
        expect(page.get_by_test_id("notice")).to_contain_text("You accepted this quote")
        expect(page.get_by_test_id("status")).to_have_text("Accepted")
        expect(page.get_by_role("button", name="Accept quote")).to_have_count(0)
        shot(page, "public-quote-accepted")
        assert errors == []
    finally:
        context.close()
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "accepted"
