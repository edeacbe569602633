"""From first message to accepted quote, on a 360 px phone: build a flow from a starter, try
its draft on the sandbox phone, publish; a new customer on the sandbox answers it (buttons,
a typed suburb, a photo); the lead appears by itself on the open board; "Create quote from
lead"; the customer accepts on the phone, and the lead shows won. The thread's flow panel
shows where the trial run waits."""

from __future__ import annotations

import base64
import json
import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import unique_email
from tests.support.browser import PHONE, assert_fits_phone, in_own_browser, new_page, shot
from tests.support.browser import sign_up as sign_up_in_browser
from tests.support.waiting import wait_for
from tests.support.worker import running_worker

PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def csrf_of(page: Page) -> str:
    return page.locator('meta[name="csrf-token"]').get_attribute("content") or ""


def say(phone: Page, text: str) -> None:
    phone.get_by_test_id("phone-message").fill(text)
    phone.get_by_test_id("phone-send").click()


@pytest.mark.browser
def test_a_new_customer_goes_from_first_message_to_a_won_lead(
    live_server: LiveServer, standin: StandinServer
) -> None:
    in_own_browser(lambda browser: journey(browser, live_server))


def journey(browser: Browser, live_server: LiveServer) -> None:
    with running_worker(live_server.settings):
        context, page, console = new_page(browser, live_server.url, PHONE)
        sign_up_in_browser(page, unique_email("flow"), f"Karoo Plumbing {uuid.uuid4().hex[:4]}")
        page.goto("/settings/whatsapp")
        page.get_by_role("button", name="Connect the sandbox").click()
        expect(page).to_have_url(re.compile(r"/sandbox$"))

        # Build from the starter, and try the draft on the sandbox phone before publishing.
        page.goto("/flows")
        page.get_by_test_id("new-flow").click()
        page.locator('[name="name"]').fill("Call-outs")
        page.get_by_test_id("starter-plumber-call-out").check()
        page.get_by_test_id("create-flow").click()
        expect(page.get_by_test_id("flow-name")).to_have_text("Call-outs")
        builder = page.url
        page.get_by_test_id("try-sandbox").click()
        expect(page).to_have_url(re.compile(r"/sandbox\?trial=1$"))
        expect(page.get_by_test_id("trial-armed")).to_be_visible()
        thread = page.get_by_test_id("phone-thread")
        theirs = thread.locator('[data-from="business"]')
        say(page, "Hi, testing the flow")
        expect(theirs.filter(has_text="What's your name, please?")).to_have_count(1, timeout=20_000)
        say(page, "Trial Person")
        expect(theirs.filter(has_text="Reply with a number.")).to_have_count(1, timeout=20_000)
        assert_fits_phone(page, "/sandbox trial")
        shot(page, "flow-trial-on-sandbox")

        # The inbox's flow panel shows the trial waiting on its choice, with Stop.
        page.goto("/inbox")
        page.get_by_test_id("conversation").first.click()
        panel = page.get_by_test_id("flow-panel")
        expect(panel.get_by_test_id("flow-run-status")).to_contain_text("“What's the problem”")
        expect(panel.get_by_test_id("flow-stop")).to_be_visible()
        assert_fits_phone(page, "/inbox/{id} with a flow")
        panel.get_by_test_id("flow-stop").click()
        # Stop locks the run (a worker taking a step holds it), then the whole page reloads.
        expect(page.get_by_test_id("flow-panel")).to_contain_text(
            "No flow is running", timeout=20_000
        )

        page.goto(builder)
        page.get_by_test_id("publish").click()
        expect(page.get_by_test_id("flow-state")).to_have_text("Live: version 1")

        # The board, open on a second page, shows the lead by itself.
        board = context.new_page()
        board.goto("/leads")

        # A new customer on the sandbox phone answers the published flow.
        page.goto("/sandbox?phone_number=0831112233&name=Sipho")
        expect(page.get_by_test_id("customer-phone")).to_have_text("+27831112233")
        thread = page.get_by_test_id("phone-thread")
        theirs = thread.locator('[data-from="business"]')
        say(page, "Hi, my geyser burst")
        expect(theirs.filter(has_text="What's your name, please?")).to_have_count(1, timeout=20_000)
        say(page, "Sipho Dlamini")
        problem = theirs.filter(has_text="What can we help you with?")
        expect(problem).to_have_count(1, timeout=20_000)
        # A list picker (the Content made on publish): a pick answers with its ListId.
        problem.get_by_role("button", name="Burst pipe or leak").click()
        urgency = theirs.filter(has_text="How urgent is it?")
        expect(urgency).to_have_count(1, timeout=20_000)
        urgency.get_by_role("button").first.click()
        expect(theirs.filter(has_text="Which suburb")).to_have_count(1, timeout=20_000)
        say(page, "Observatory, Cape Town")
        expect(theirs.filter(has_text="send a photo")).to_have_count(1, timeout=20_000)
        page.get_by_test_id("phone-image").set_input_files(
            {"name": "geyser.png", "mimeType": "image/png", "buffer": PIXEL}
        )
        page.get_by_test_id("phone-send").click()
        expect(theirs.filter(has_text="that's everything")).to_have_count(1, timeout=20_000)
        assert_fits_phone(page, "/sandbox flow done")
        shot(page, "flow-completed-on-sandbox")

        card = board.get_by_test_id("column-new").get_by_test_id("lead-card")
        expect(card.filter(has_text="Sipho Dlamini")).to_have_count(1, timeout=20_000)
        assert_fits_phone(board, "/leads live")

        # "Create quote from lead", issue it, send it; the customer accepts on the phone.
        card.filter(has_text="Sipho Dlamini").get_by_role("link").first.click()
        lead_url = board.url
        board.get_by_test_id("quote-from-lead").click()
        expect(board.get_by_test_id("job-description")).not_to_have_value("")
        line = board.locator("[data-line]").first
        line.get_by_test_id("line-description").fill("Replace burst geyser")
        line.get_by_test_id("line-price").fill("6500")
        board.get_by_test_id("save-draft").click()
        expect(board).to_have_url(re.compile(r"/quotes/[0-9a-f-]{36}$"))
        quote_id = board.url.rsplit("/", 1)[1]
        sent = board.request.post(
            f"/api/v1/quotes/{quote_id}/send",
            data=json.dumps({}),
            headers={"content-type": "application/json", "x-csrf-token": csrf_of(board)},
        )
        assert sent.ok, sent.text()
        quote_card = theirs.filter(has=page.get_by_role("button", name="Accept"))
        expect(quote_card).to_have_count(1, timeout=30_000)
        quote_card.get_by_role("button", name="Accept").click()

        def won() -> bool:
            board.goto(lead_url)
            return board.get_by_test_id("lead-stage").inner_text().strip() == "Won"

        wait_for(won, timeout=30, message="the lead won")
        assert_fits_phone(board, "lead won")
        console.assert_clean()
        context.close()
