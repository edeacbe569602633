"""The templates page in a phone-sized browser: the form follows the kind, the preview fills
the samples, and a submitted template is synced to approved."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer, StandinServer
from tests.support.templates import (
    listed,
    owner_with_channel,
    unique_name,
    wait_for_standin_verdict,
)


@pytest.mark.browser
def test_templates_page_in_a_phone_browser(
    browser: Browser, client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> None:
    owner = owner_with_channel(client, standin)
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 360, "height": 740}, locale="en-ZA"
    )
    context.set_default_timeout(10_000)
    context.add_cookies(
        [
            {"name": name, "value": value, "url": live_server.url}
            for name, value in client.cookies.items()
        ]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto("/templates")
        expect(page.get_by_role("heading", name="Templates", exact=True)).to_be_visible()
        expect(page.locator(".for-quick-reply")).to_be_hidden()
        page.get_by_test_id("kind").select_option("quick_reply")
        expect(page.locator(".for-quick-reply")).to_be_visible()
        expect(page.locator(".for-cta")).to_be_hidden()

        name = unique_name("site_visit")
        page.locator('[name="name"]').fill(name)
        page.locator('[name="body"]').fill("Hi {{1}}, can we visit on {{2}}?")
        second = page.locator('[name="variables.2"]')
        expect(second).to_be_visible()
        page.locator('[name="variables.1"]').fill("Sipho")
        second.fill("Monday")
        page.locator('[name="qr.0.title"]').fill("Yes")
        page.locator('[name="qr.1.title"]').fill("Another day")
        preview = page.get_by_test_id("template-preview")
        expect(preview).to_contain_text("Hi Sipho, can we visit on Monday?")
        expect(preview).to_contain_text("Another day")

        page.get_by_test_id("save-submit").click()
        row = page.locator(f'[data-name="{name}"]')
        expect(row.get_by_test_id("template-status")).to_have_text("Waiting for WhatsApp")
        [template] = listed(client)
        wait_for_standin_verdict(standin, owner, template["content_sid"])
        row.get_by_test_id("sync").click()
        expect(row.get_by_test_id("template-status")).to_have_text("Approved")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert errors == [], errors
    finally:
        context.close()
