"""Building a flow on a 360 px phone: from a starter, edit a step, publish."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.accounts import sign_up
from tests.support.browser import PHONE, assert_fits_phone, shot, signed_in


@pytest.mark.browser
def test_build_a_flow_from_a_starter_on_a_phone(
    browser: Browser, client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    context, page, console = signed_in(browser, live_server.url, client, PHONE)
    try:
        page.goto("/flows")
        page.get_by_test_id("new-flow").click()
        page.locator('[name="name"]').fill("Plumbing call-outs")
        page.get_by_test_id("starter-plumber-call-out").check()
        page.get_by_test_id("create-flow").click()

        expect(page.get_by_test_id("flow-name")).to_have_text("Plumbing call-outs")
        steps = page.get_by_test_id("step")
        expect(steps).to_have_count(11)
        urgency = page.locator('[data-step-id="urgency"]')
        expect(urgency.get_by_test_id("chip")).to_have_text(["Emergency", "This week", "No rush"])
        expect(page.get_by_test_id("try-sandbox")).to_be_enabled()
        assert_fits_phone(page, "/flows/{id}")
        shot(page, "flow-builder")

        welcome = page.locator('[data-step-id="welcome"]')
        welcome.get_by_test_id("edit-step").click()
        form = page.get_by_test_id("step-form")
        shot(page, "flow-step-form")
        form.get_by_test_id("step-text").fill("Howzit! Thanks for messaging Sipho's Plumbing.")
        form.get_by_test_id("save-step").click()
        expect(page.get_by_test_id("saved")).to_be_visible()
        expect(welcome.get_by_test_id("customer-sees")).to_contain_text(
            "Howzit! Thanks for messaging Sipho's Plumbing."
        )

        page.get_by_test_id("publish").click()
        expect(page.get_by_test_id("published")).to_contain_text("version 1")
        expect(page.get_by_test_id("version")).to_have_count(1)
        expect(page.get_by_test_id("version")).to_contain_text("Version 1 (live) · published")
        expect(page.get_by_test_id("flow-state")).to_have_text("Live: version 1")
        assert_fits_phone(page, "/flows/{id} published")

        page.goto("/settings/business/hours")
        expect(page.get_by_test_id("mon-open")).to_have_value("on")
        expect(page.get_by_test_id("sun-open")).to_have_value("")
        assert_fits_phone(page, "/settings/business/hours")
        shot(page, "business-hours")
        console.assert_clean()
    finally:
        context.close()
