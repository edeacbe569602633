"""A quote inside the 24-hour window, seen by the customer on the sandbox phone at 360 px: one
message with the quote's PDF as its header and Accept / Decline under it; tapping Accept
accepts the quote."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import unique_email
from tests.support.browser import PHONE, in_own_browser, new_page, shot
from tests.support.browser import sign_up as sign_up_in_browser
from tests.support.waiting import wait_for
from tests.support.worker import running_worker

pytestmark = pytest.mark.browser


def csrf_of(page: Page) -> str:
    return page.locator('meta[name="csrf-token"]').get_attribute("content") or ""


def api_post(page: Page, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    response = page.request.post(
        path,
        data=json.dumps(body) if body is not None else None,
        headers={"content-type": "application/json", "x-csrf-token": csrf_of(page)},
    )
    assert response.ok, response.text()
    result: dict[str, object] = response.json()
    return result


@pytest.mark.browser
def test_the_customer_gets_the_pdf_with_accept_and_decline_and_accepts_on_the_phone(
    live_server: LiveServer, standin: StandinServer
) -> None:
    in_own_browser(lambda browser: quote_on_the_phone(browser, live_server))


def quote_on_the_phone(browser: Browser, live_server: LiveServer) -> None:
    with running_worker(live_server.settings):
        context, phone, console = new_page(browser, live_server.url, PHONE)
        sign_up_in_browser(phone, unique_email("card"), f"Card Electrical {uuid.uuid4().hex[:4]}")
        phone.goto("/settings/whatsapp")
        phone.get_by_role("button", name="Connect the sandbox").click()
        expect(phone).to_have_url(re.compile(r"/sandbox$"))
        customer = phone.get_by_test_id("customer-phone").inner_text()

        # The customer writes first, so the 24-hour window is open.
        phone.get_by_test_id("phone-message").fill("Hi, please quote for a geyser element")
        phone.get_by_test_id("phone-send").click()
        thread = phone.get_by_test_id("phone-thread")
        expect(thread.locator('[data-from="customer"]')).to_have_count(1)

        quote = api_post(
            phone,
            "/api/v1/quotes",
            {
                "new_contact": {"name": "Nomvula Mthembu", "phone": customer},
                "job_description": "Replace geyser element",
                "lines": [{"description": "Geyser element", "quantity": "1", "unit_price": "650"}],
            },
        )
        sent = api_post(phone, f"/api/v1/quotes/{quote['id']}/send")
        number = str(sent["document"]["number"])  # type: ignore[index]

        # One message: the PDF as its header, the text, and Accept / Decline.
        theirs = thread.locator('[data-from="business"]')
        expect(theirs).to_have_count(1, timeout=20_000)
        card = theirs.first
        expect(card).to_contain_text(f"here is your quote {number}")
        document = card.get_by_test_id("phone-document")
        expect(document).to_be_visible(timeout=20_000)
        expect(document).to_contain_text(f"Quote-{number}.pdf")
        expect(card.get_by_role("button", name="Accept")).to_be_visible()
        expect(card.get_by_role("button", name="Decline")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        box = card.get_by_role("button", name="Accept").bounding_box()
        assert box is not None and box["height"] >= 32, box
        shot(phone, "sandbox-quote-card")

        card.get_by_role("button", name="Accept").click()
        mine = thread.locator('[data-from="customer"]')
        expect(mine).to_have_count(2)
        expect(mine.nth(1)).to_contain_text("Accept")
        expect(theirs.filter(has_text="is accepted")).to_have_count(1, timeout=30_000)

        def accepted() -> bool:
            found = phone.request.get(f"/api/v1/quotes/{quote['id']}").json()
            return bool(found["status"] == "accepted")

        wait_for(accepted, timeout=30, message="the quote accepted")
        console.assert_clean()
        context.close()
