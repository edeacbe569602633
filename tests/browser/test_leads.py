"""Leads on a 360 px phone: the board shows a lead, "Move to" moves it by touch,
"Create quote from lead" opens the quote editor prefilled (saving moves the lead to quoted),
and a lead made elsewhere appears on the open board by itself."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.accounts import sign_up
from tests.support.browser import PHONE, assert_fits_phone, shot, signed_in
from tests.support.forms import api_headers
from tests.support.whatsapp import sa_mobile

pytestmark = pytest.mark.browser


def test_board_move_and_quote_from_lead_on_a_phone(
    browser: Browser, live_server: LiveServer, client: httpx.Client
) -> None:
    sign_up(client)
    headers = api_headers(client)
    person = client.post(
        "/api/v1/contacts", json={"name": "Sizwe Ndlovu", "phone": sa_mobile()}, headers=headers
    ).json()
    lead = client.post(
        "/api/v1/leads",
        json={"contact_id": person["id"], "service": "Burst pipe", "suburb": "Khayelitsha"},
        headers=headers,
    ).json()
    context, page, console = signed_in(
        browser, live_server.url, client, PHONE, has_touch=True, is_mobile=True
    )
    try:
        page.goto("/leads")
        card = page.get_by_test_id("column-new").get_by_test_id("lead-card")
        expect(card).to_contain_text("Sizwe Ndlovu")
        expect(page.get_by_test_id("report-sources").get_by_role("img")).to_be_visible()
        assert_fits_phone(page, "/leads")
        shot(page, "leads-board")

        card.get_by_test_id("move-to").tap()
        card.get_by_test_id("move-contacted").tap()
        expect(page).to_have_url(re.compile(r"/leads$"))
        moved = page.get_by_test_id("column-contacted").get_by_test_id("lead-card")
        expect(moved).to_contain_text("Sizwe Ndlovu")
        expect(page.get_by_test_id("column-new").get_by_test_id("lead-card")).to_have_count(0)

        moved.get_by_role("link").first.tap()
        expect(page).to_have_url(re.compile(rf"/leads/{lead['id']}$"))
        assert_fits_phone(page, "lead page")
        page.get_by_test_id("quote-from-lead").tap()
        expect(page.get_by_test_id("contact-select")).to_have_value(person["id"])
        expect(page.get_by_test_id("job-description")).to_have_value("Burst pipe")
        expect(page.locator('textarea[name="service_address"]')).to_have_value("Khayelitsha")
        line = page.locator("[data-line]").first
        line.get_by_test_id("line-description").fill("Replace burst pipe")
        line.get_by_test_id("line-price").fill("850")
        assert_fits_phone(page, "quote from lead")
        page.get_by_test_id("save-draft").tap()
        expect(page).to_have_url(re.compile(r"/quotes/[0-9a-f-]{36}$"))

        page.goto(f"/leads/{lead['id']}")
        expect(page.get_by_test_id("lead-stage")).to_have_text("Quoted")
        expect(page.get_by_test_id("lead-quote")).to_have_count(1)

        page.goto("/leads")  # live: a lead made elsewhere (a flow, a teammate) shows up
        expect(page.get_by_test_id("column-quoted")).to_contain_text("Sizwe Ndlovu")
        client.post(
            "/api/v1/leads",
            json={"contact_id": person["id"], "service": "Leaking geyser"},
            headers=headers,
        )
        expect(page.get_by_test_id("column-new")).to_contain_text("Leaking geyser")
        console.assert_clean()
    finally:
        context.close()
