"""The WhatsApp sandbox in a real browser: a member plays the customer on the /sandbox phone,
the business answers from the inbox, and the stand-in carries both ways with signed webhooks
and plays delivery ticks."""

from __future__ import annotations

import base64
import json
import re
import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from clientcompass.phones import national
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import unique_email
from tests.support.browser import (
    DESKTOP,
    PHONE,
    Console,
    assert_moves_forward_to_read,
    in_own_browser,
    new_page,
    paced_delivery,
    shot,
    tick_progress,
)
from tests.support.browser import sign_up as sign_up_in_browser
from tests.support.waiting import wait_for
from tests.support.worker import running_worker

# A 1x1 PNG: the smallest photo a customer can send.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def csrf_of(page: Page) -> str:
    return page.locator('meta[name="csrf-token"]').get_attribute("content") or ""


def quick_reply_template(standin: StandinServer, account_sid: str) -> str:
    """An approved quick-reply template in the stand-in, as the business would have one."""
    token = standin.app.state.standin.accounts[account_sid].auth_token
    created = httpx.post(
        f"{standin.url}/v1/Content",
        auth=(account_sid, token),
        json={
            "friendly_name": f"book_{uuid.uuid4().hex[:6]}",
            "language": "en",
            "variables": {"1": "Tuesday"},
            "types": {
                "twilio/quick-reply": {
                    "body": "Shall we book you in for {{1}}?",
                    "actions": [
                        {"title": "Yes please", "id": "book_yes"},
                        {"title": "No thanks", "id": "book_no"},
                    ],
                },
                "twilio/text": {"body": "Shall we book you in for {{1}}?"},
            },
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    sid: str = created.json()["sid"]
    standin.control("POST", f"content/{sid}/approval", json={"status": "approved"})
    return sid


@pytest.mark.browser
def test_customer_writes_on_the_sandbox_phone_and_sees_the_reply_tick_to_read(
    live_server: LiveServer, standin: StandinServer
) -> None:
    in_own_browser(lambda browser: sandbox_journey(browser, live_server, standin))


def sandbox_journey(browser: Browser, live_server: LiveServer, standin: StandinServer) -> None:
    """Customer on the phone, business in the inbox, one browser context (one signed-in user)."""
    with running_worker(live_server.settings), paced_delivery(standin):
        context, phone, console = new_page(browser, live_server.url, PHONE)
        sign_up_in_browser(
            phone, unique_email("sandbox"), f"Sandbox Plumbing {uuid.uuid4().hex[:4]}"
        )

        # Settings → WhatsApp → Connect the sandbox: lands on the phone.
        phone.goto("/settings/whatsapp")
        phone.get_by_role("button", name="Connect the sandbox").click()
        expect(phone).to_have_url(re.compile(r"/sandbox$"))
        thread = phone.get_by_test_id("phone-thread")
        expect(thread).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        customer = phone.get_by_test_id("customer-phone").inner_text()
        assert re.fullmatch(r"\+2783\d{7}", customer), customer

        # The customer writes; the message is on the phone at once, and the composer clears.
        phone.get_by_test_id("phone-message").fill("Hi, my geyser is leaking")
        phone.get_by_test_id("phone-send").click()
        mine = thread.locator('[data-from="customer"]')
        expect(mine).to_have_count(1)
        expect(mine).to_contain_text("Hi, my geyser is leaking")
        expect(phone.get_by_test_id("phone-message")).to_have_value("")

        # …and a photo.
        phone.get_by_test_id("phone-image").set_input_files(
            {"name": "leak.png", "mimeType": "image/png", "buffer": PIXEL}
        )
        expect(phone.get_by_test_id("phone-file-name")).to_contain_text("leak.png")
        phone.get_by_test_id("phone-send").click()
        expect(mine).to_have_count(2)
        photo = mine.nth(1).locator("img.bubble-image")
        expect(photo).to_be_visible()
        wait_for(lambda: photo.evaluate("img => img.naturalWidth") == 1, message="the photo")

        # The business sees the conversation in its inbox, in a second page.
        inbox = context.new_page()
        inbox_console = Console(inbox)
        inbox.goto("/inbox")
        # The inbox shows the number as people read it (083 …), as every page does.
        row = inbox.get_by_test_id("conversation").filter(has_text=national(customer))
        expect(row).to_contain_text("Window open")
        row.click()
        expect(inbox).to_have_url(re.compile(r"/inbox/[0-9a-f-]{36}$"))
        business_thread = inbox.get_by_test_id("thread")
        expect(business_thread).to_contain_text("Hi, my geyser is leaking")
        expect(business_thread.locator("img.bubble-image")).to_be_visible(timeout=20_000)

        # The business replies: queued first, then the worker sends it through the stand-in.
        inbox.locator('textarea[name="body"]').fill("Sorry to hear! We can come at 14:00.")
        inbox.get_by_role("button", name="Send").click()
        expect(inbox).to_have_url(re.compile(r"/inbox/[0-9a-f-]{36}$"))
        reply = business_thread.locator('[data-testid="bubble"].out')
        expect(reply).to_contain_text("We can come at 14:00.")

        # On the phone the reply arrives, and its ticks move forward to blue.
        theirs = thread.locator('[data-from="business"]')
        expect(theirs).to_have_count(1, timeout=20_000)
        expect(theirs).to_contain_text("Sorry to hear! We can come at 14:00.")
        assert_moves_forward_to_read(tick_progress(theirs.locator(".ticks")))
        expect(theirs.locator(".ticks-read")).to_be_visible()
        # The business's copy reaches read too.
        expect(reply.locator(".ticks")).to_have_attribute("data-tick", "read", timeout=20_000)

        # A quick-reply template: the customer taps a button, the business sees the choice.
        conversation_id = inbox.url.rsplit("/", 1)[1]
        senders = standin.control("GET", "senders").json()
        sandbox_number = phone.locator(".phone-title .small").inner_text().split(" ")[0]
        [sender] = [s for s in senders if s["from"] == f"whatsapp:{sandbox_number}"]
        content_sid = quick_reply_template(standin, sender["account_sid"])
        sent = inbox.request.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            data=json.dumps(
                {
                    "template": {
                        "content_sid": content_sid,
                        "variables": {"1": "Tuesday"},
                        "preview": "Shall we book you in for Tuesday?",
                    }
                }
            ),
            headers={"content-type": "application/json", "x-csrf-token": csrf_of(inbox)},
        )
        assert sent.status == 202, sent.text()
        expect(theirs).to_have_count(2, timeout=20_000)
        expect(theirs.nth(1)).to_contain_text("Shall we book you in for Tuesday?")
        theirs.nth(1).get_by_role("button", name="Yes please").click()
        expect(mine).to_have_count(3)
        expect(mine.nth(2)).to_contain_text("Yes please")
        expect(business_thread.locator(".bubble-button")).to_contain_text("Yes please")
        shot(phone, "sandbox")
        phone.set_viewport_size(DESKTOP)
        shot(phone, "sandbox")
        shot(inbox, "conversation")
        inbox.goto("/inbox")
        shot(inbox, "inbox-list")

        console.assert_clean()
        inbox_console.assert_clean()
        context.close()
