"""Irreversible actions ask first, and say what can't be undone: a "no" changes nothing."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.browser import DESKTOP, PHONE, signed_in
from tests.support.documents import draft, vat_business
from tests.support.forms import api_headers
from tests.support.whatsapp import sa_mobile

pytestmark = pytest.mark.browser


def test_finalising_asks_first_and_a_no_leaves_the_draft(
    browser: Browser, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        _, headers = vat_business(owner)
        quote = draft(owner, headers)
        context, page, console = signed_in(browser, live_server.url, owner, DESKTOP)
        try:
            page.goto(f"/quotes/{quote['id']}")
            console.answer = False
            page.get_by_test_id("finalise").click()
            expect(page.get_by_test_id("doc-status")).to_have_attribute("data-status", "draft")
            assert console.dialogs and "can't be edited or deleted" in console.dialogs[-1]
            console.answer = True
            page.get_by_test_id("finalise").click()
            expect(page.get_by_test_id("doc-status")).to_have_attribute("data-status", "finalised")
            console.assert_clean()
        finally:
            context.close()


def test_merging_on_a_phone_asks_first_and_a_no_merges_nothing(
    browser: Browser, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        vat_business(owner)
        headers = api_headers(owner)
        kept = owner.post(
            "/api/v1/contacts", json={"phone": sa_mobile(), "name": "Kept Person"}, headers=headers
        ).json()
        other_phone = sa_mobile()
        other = owner.post(
            "/api/v1/contacts", json={"phone": other_phone, "name": "Other Person"}, headers=headers
        ).json()
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            page.goto(f"/contacts/{kept['id']}")
            form = page.get_by_test_id("merge-form")
            form.locator("input[name=duplicate_phone]").fill(other_phone)
            console.answer = False
            form.locator("button[type=submit]").click()
            expect(page).to_have_url(f"{live_server.url}/contacts/{kept['id']}")
            assert "can't be undone" in console.dialogs[-1]
            assert owner.get(f"/api/v1/contacts/{other['id']}").status_code == 200
            console.assert_clean()
        finally:
            context.close()


def test_the_contact_page_offers_the_likely_duplicate_and_merges_it_after_asking(
    browser: Browser, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        vat_business(owner)
        headers = api_headers(owner)
        kept = owner.post(
            "/api/v1/contacts", json={"phone": sa_mobile(), "name": "Thandi Nkosi"}, headers=headers
        ).json()
        twin = owner.post(
            "/api/v1/contacts", json={"phone": sa_mobile(), "name": "thandi nkosi"}, headers=headers
        ).json()
        owner.post(
            "/api/v1/contacts", json={"phone": sa_mobile(), "name": "Sipho Other"}, headers=headers
        )
        for viewport in (PHONE, DESKTOP):
            context, page, console = signed_in(browser, live_server.url, owner, viewport)
            try:
                page.goto(f"/contacts/{kept['id']}")
                offered = page.get_by_test_id("likely-duplicates")
                expect(offered.locator("li")).to_have_count(1 if viewport is PHONE else 0)
                if viewport is PHONE:
                    expect(offered).to_contain_text("thandi nkosi")
                    expect(offered).not_to_contain_text("Sipho Other")
                    offered.get_by_test_id("merge-duplicate").click()
                    expect(page).to_have_url(f"{live_server.url}/contacts/{kept['id']}?merged=1")
                    assert "can't be undone" in console.dialogs[-1]
                    assert owner.get(f"/api/v1/contacts/{twin['id']}").status_code == 404
                console.assert_clean()
            finally:
                context.close()
