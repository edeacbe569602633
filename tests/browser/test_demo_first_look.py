"""A first look at the demo business (what `make run` opens onto) is not empty: the inbox
has a customer who wrote in, and the quotes list a numbered quote, on a phone and a desktop."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from clientcompass.config import Settings
from clientcompass.sandbox.provision import DEMO_EMAIL
from tests.conftest import LiveServer
from tests.support.accounts import log_in
from tests.support.browser import DESKTOP, PHONE, signed_in
from tests.support.sandbox import demo_settings, provision

pytestmark = pytest.mark.browser


def test_the_demo_opens_onto_a_conversation_a_quote_and_an_invoice(
    browser: Browser, live_server: LiveServer, settings: Settings, tmp_path: Path
) -> None:
    demo = provision(demo_settings(settings, tmp_path))
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        assert log_in(owner, DEMO_EMAIL, demo.password).status_code == 303
        for viewport in (PHONE, DESKTOP):
            context, page, console = signed_in(browser, live_server.url, owner, viewport)
            try:
                page.goto("/inbox")
                expect(page.get_by_test_id("conversation").first).to_contain_text("Sipho Dlamini")
                page.goto("/quotes")
                expect(page.get_by_test_id("document-row").first).to_contain_text("QUO-")
                page.goto("/invoices")
                expect(page.get_by_test_id("document-row").first).to_contain_text("Draft")
                console.assert_clean()
            finally:
                context.close()
