"""A customer who writes to a resolved (or snoozed) conversation reopens it, and every open
tab shows it at once: the status badge in the thread and the row in the list. Before, the
reopen was announced only as a new message, so other tabs kept a stale "Resolved"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import invite_and_join, sign_up
from tests.support.browser import DESKTOP, PHONE, signed_in
from tests.support.forms import api_headers
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

pytestmark = pytest.mark.browser


def open_live(page: Page, path: str) -> None:
    page.goto(path)
    expect(page.locator("[data-inbox]")).to_have_attribute("data-live", "on")


def test_a_customer_reopening_a_conversation_updates_the_badge_in_another_tab(
    browser: Browser, live_server: LiveServer, standin: StandinServer
) -> None:
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as owner,
        httpx.Client(base_url=live_server.url, timeout=20) as agent,
    ):
        sign_up(owner)
        channel = connect_channel(owner, standin)
        invite_and_join(owner, agent)
        phone = sa_mobile()
        customer_says(standin, channel, phone, "The geyser is fixed, thanks")
        cid = conversation_with(owner, phone)["id"]
        headers = api_headers(owner)
        resolved = owner.post(
            f"/api/v1/conversations/{cid}/status", json={"status": "resolved"}, headers=headers
        )
        assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"

        c1, desk, console1 = signed_in(browser, live_server.url, owner, DESKTOP)
        c2, phone_tab, console2 = signed_in(browser, live_server.url, agent, PHONE)
        try:
            open_live(desk, f"/inbox/{cid}")
            open_live(phone_tab, f"/inbox/{cid}")
            for page in (desk, phone_tab):
                expect(page.get_by_test_id("status")).to_have_text("Resolved")

            customer_says(standin, channel, phone, "Sorry, it is leaking again")
            for page in (desk, phone_tab):
                expect(page.get_by_test_id("status")).to_have_text("Open")
                expect(page.get_by_test_id("thread")).to_contain_text(
                    "Reopened: the customer wrote again"
                )

            # A snoozed conversation wakes the same way, and the list shows it too.
            until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
            snoozed = owner.post(
                f"/api/v1/conversations/{cid}/status",
                json={"status": "snoozed", "until": until},
                headers=headers,
            )
            assert snoozed.status_code == 200
            expect(desk.get_by_test_id("status")).to_contain_text("Snoozed")
            open_live(phone_tab, "/inbox?status=open")
            row = phone_tab.get_by_test_id("conversation").filter(has_text="leaking")
            expect(row).to_have_count(0)
            customer_says(standin, channel, phone, "Still dripping")
            expect(desk.get_by_test_id("status")).to_have_text("Open")
            expect(
                phone_tab.get_by_test_id("conversation").filter(has_text="dripping")
            ).to_have_count(1)
            console1.assert_clean()
            console2.assert_clean()
        finally:
            c1.close()
            c2.close()
