"""The shared inbox in real browsers: two agents of one business and a stranger from
another, all live over SSE; the closed window's template picker; a phone-sized walk."""

from __future__ import annotations

import re
import uuid

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from clientcompass.phones import national
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import invite_and_join, sign_up
from tests.support.browser import (
    DESKTOP,
    PHONE,
    assert_fits_phone,
    assert_moves_forward_to_read,
    paced_delivery,
    shot,
    signed_in,
    tick_progress,
)
from tests.support.forms import api_headers
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile
from tests.support.worker import running_worker

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def open_live(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("[data-inbox]")).to_have_attribute("data-live", "on")


def test_two_agents_see_messages_ticks_and_assignment_live_and_a_stranger_sees_nothing(
    browser: Browser, live_server: LiveServer, standin: StandinServer
) -> None:
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as owner,
        httpx.Client(base_url=live_server.url, timeout=20) as agent,
        httpx.Client(base_url=live_server.url, timeout=20) as stranger,
    ):
        sign_up(owner)
        channel = connect_channel(owner, standin)
        invite_and_join(owner, agent)
        agent_id = agent.get("/api/v1/me").json()["id"]
        sign_up(stranger)
        c1, one, console1 = signed_in(browser, live_server.url, owner, DESKTOP)
        c2, two, console2 = signed_in(browser, live_server.url, agent, DESKTOP)
        c3, three, console3 = signed_in(browser, live_server.url, stranger, DESKTOP)
        for page in (one, two, three):
            open_live(page, "/inbox")

        # A signed inbound webhook (the stand-in signs it) shows up in both agents' lists.
        phone = sa_mobile()
        text = f"Burst pipe in the kitchen {uuid.uuid4().hex[:6]}"
        customer_says(standin, channel, phone, text)
        for page in (one, two):
            row = page.get_by_test_id("conversation").filter(has_text=text)
            expect(row).to_be_visible()
            expect(row.get_by_test_id("unread")).to_have_text("1")
            expect(page).to_have_title(re.compile(r"^\(1\) Inbox"))
        cid = conversation_with(owner, phone)["id"]

        # Both open it; a second message arrives live in both threads, escaped.
        for page in (one, two):
            page.get_by_test_id("conversation").filter(has_text=text).click()
            expect(page).to_have_url(re.compile(rf"/inbox/{cid}$"))
            expect(page.get_by_test_id("thread")).to_contain_text(text)
            expect(page.locator("[data-inbox]")).to_have_attribute("data-live", "on")
        customer_says(standin, channel, phone, XSS)
        for page in (one, two):
            expect(page.get_by_test_id("thread").locator(".bubble.in")).to_have_count(2)
            expect(page.get_by_test_id("thread")).to_contain_text(XSS)
            assert page.locator("img[src=x]").count() == 0
        expect(three.get_by_test_id("conversation")).to_have_count(0)
        expect(three.locator("main")).not_to_contain_text(text)

        # Agent 1 replies (Enter sends on a desktop); its ticks move forward as the
        # stand-in reports sent → delivered → read, and agent 2 sees the reply too.
        with running_worker(live_server.settings), paced_delivery(standin, 1.0):
            one.get_by_test_id("reply").fill("On our way, 20 minutes")
            one.get_by_test_id("reply").press("Enter")
            mine = one.get_by_test_id("thread").locator(".bubble.out")
            expect(mine).to_contain_text("On our way, 20 minutes")
            assert_moves_forward_to_read(tick_progress(mine.locator(".ticks")))
            theirs = two.get_by_test_id("thread").locator(".bubble.out")
            expect(theirs).to_contain_text("On our way, 20 minutes")
            expect(theirs.locator(".ticks")).to_have_attribute("data-tick", "read")

        # Agent 1 assigns it to agent 2: agent 2's header and list show it without a reload.
        one.get_by_test_id("assignee-select").select_option(agent_id)
        expect(one.get_by_test_id("assignee-select")).to_have_value(agent_id)
        expect(two.get_by_test_id("assignee-select")).to_have_value(agent_id)
        expect(two.get_by_test_id("thread").get_by_test_id("system-event").last).to_contain_text(
            "Thandi assigned this to you"
        )
        expect(two.get_by_test_id("conversation").filter(has_text=national(phone))).to_contain_text(
            "Agent Person"
        )

        # A private note by agent 2 appears for agent 1, marked as a note.
        two.get_by_test_id("note-input").fill("Customer prefers SMS")
        two.get_by_role("button", name="Add note").click()
        expect(one.get_by_test_id("note")).to_contain_text("Customer prefers SMS")

        # Keyboard: e resolves (desktop shortcut).
        one.locator("body").press("e")
        expect(one.get_by_test_id("status")).to_have_text("Resolved")
        expect(two.get_by_test_id("status")).to_have_text("Resolved")

        shot(one, "inbox-thread")
        expect(three.locator("main")).not_to_contain_text(text)
        for console in (console1, console2, console3):
            console.assert_clean()
        for context in (c1, c2, c3):
            context.close()


def test_a_closed_window_offers_templates_only_and_sends_one(
    browser: Browser,
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        sign_up(owner)
        channel = connect_channel(owner, standin)
        headers = api_headers(owner)
        phone = sa_mobile()
        customer_says(standin, channel, phone, "Can you quote for a new geyser?")
        cid = conversation_with(owner, phone)["id"]
        owner_conn.execute(
            "update conversations set last_inbound_at = now() - interval '25 hours' where id = %s",
            (cid,),
        )
        standin.control(
            "POST",
            "window",
            json={
                "sender": channel["whatsapp_from"],
                "customer": f"whatsapp:{phone}",
                "last_inbound_at": "2020-01-01T00:00:00Z",
            },
        )
        template = owner.post(
            "/api/v1/templates",
            json={
                "name": f"follow_up_{uuid.uuid4().hex[:6]}",
                "category": "UTILITY",
                "body": "Hi {{1}}, your quote for {{2}} is ready.",
                "variables": {"1": "Sipho", "2": "a geyser"},
            },
            headers=headers,
        ).json()
        submitted = owner.post(f"/api/v1/templates/{template['id']}/submit", headers=headers).json()
        standin.control(
            "POST", f"content/{submitted['content_sid']}/approval", json={"status": "approved"}
        )
        assert (
            owner.post(f"/api/v1/templates/{template['id']}/sync", headers=headers).json()["status"]
            == "approved"
        )

        context, page, console = signed_in(browser, live_server.url, owner, DESKTOP)
        open_live(page, f"/inbox/{cid}")
        expect(page.get_by_test_id("window")).to_contain_text("Window closed")
        expect(page.get_by_test_id("reply")).to_have_count(0)
        picker = page.get_by_test_id("template-picker")
        expect(picker).to_be_visible()
        fields = picker.get_by_test_id("template-var")
        fields.nth(0).fill("Thabo")
        fields.nth(1).fill("a 150 l geyser")
        preview = page.get_by_test_id("template-preview")
        expect(preview).to_have_text("Hi Thabo, your quote for a 150 l geyser is ready.")
        page.get_by_test_id("send-template").click()
        sent = page.get_by_test_id("thread").locator(".bubble.out")
        expect(sent).to_contain_text("Hi Thabo, your quote for a 150 l geyser is ready.")
        live_server.run_jobs()
        [twilio_copy] = standin.control(
            "GET", "messages", params={"to": f"whatsapp:{phone}"}
        ).json()
        assert twilio_copy["content_sid"] == submitted["content_sid"]
        assert twilio_copy["content_variables"] == {"1": "Thabo", "2": "a 150 l geyser"}
        expect(sent.locator(".ticks")).not_to_have_attribute("data-tick", "pending")

        # The customer writes again: the window reopens and the free-text box comes back live.
        customer_says(standin, channel, phone, "Thanks, go ahead")
        expect(page.get_by_test_id("reply")).to_be_visible()
        console.assert_clean()
        context.close()


def test_a_phone_walks_from_the_list_to_a_thread_replies_and_comes_back(
    browser: Browser, live_server: LiveServer, standin: StandinServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        sign_up(owner)
        channel = connect_channel(owner, standin)
        phone = sa_mobile()
        customer_says(standin, channel, phone, "Is the electrician free today?")
        made = owner.post(
            "/api/v1/canned-responses",
            json={"shortcut": "after2", "body": "Yes, after 2 pm"},
            headers=api_headers(owner),
        )
        assert made.status_code == 201, made.text
        context, page, console = signed_in(
            browser, live_server.url, owner, PHONE, has_touch=True, is_mobile=True
        )
        open_live(page, "/inbox")
        assert_fits_phone(page, "/inbox")
        shot(page, "inbox-phone-list")
        page.get_by_test_id("conversation").filter(has_text=national(phone)).tap()
        expect(page).to_have_url(re.compile(r"/inbox/[0-9a-f-]{36}$"))
        expect(page.get_by_test_id("conversations")).to_be_hidden()
        expect(page.get_by_test_id("thread")).to_contain_text("Is the electrician free today?")
        assert_fits_phone(page, "/inbox/{id}")
        # The contact's card is beside the thread: shown and edited in place.
        page.get_by_text("Contact details", exact=True).tap()
        card = page.get_by_test_id("contact-panel")
        expect(card).to_contain_text(national(phone))
        card.get_by_text("Edit details", exact=True).tap()
        card.locator('[name="name"]').fill("Sipho Dlamini")
        card.get_by_role("button", name="Save").tap()
        expect(page.get_by_test_id("contact-panel")).to_contain_text("Sipho Dlamini")
        assert_fits_phone(page, "/inbox/{id} with the contact card")
        # `/shortcut` offers the canned response; tapping it fills the reply.
        page.get_by_test_id("reply").fill("/aft")
        suggestion = page.locator("[data-canned-suggestions] button")
        expect(suggestion).to_have_count(1)
        expect(suggestion).to_contain_text("/after2")
        suggestion.tap()
        expect(page.get_by_test_id("reply")).to_have_value("Yes, after 2 pm")
        # A file is uploaded first, with progress, then goes with the reply.
        page.get_by_test_id("attach").set_input_files(
            {"name": "quote-1.pdf", "mimeType": "application/pdf", "buffer": PDF}
        )
        expect(page.locator("[data-upload-state]")).to_have_attribute("data-ready", "yes")
        expect(page.locator("[data-upload-progress]")).to_have_attribute("value", "100")
        page.get_by_role("button", name="Send", exact=True).tap()
        sent = page.get_by_test_id("thread").locator(".bubble.out")
        expect(sent).to_contain_text("Yes, after 2 pm")
        expect(sent.locator(".bubble-file")).to_contain_text(f"quote-1.pdf ({len(PDF)} bytes)")
        shot(page, "inbox-phone-thread")
        page.get_by_test_id("back").tap()
        expect(page).to_have_url(re.compile(r"/inbox$"))
        expect(
            page.get_by_test_id("conversation").filter(has_text=national(phone))
        ).to_contain_text("Yes, after 2 pm")
        assert_fits_phone(page, "/inbox")
        console.assert_clean()
        context.close()
