"""In a browser: a logo over the upload limit gets the page that says so (not a reset
connection), on a phone."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.accounts import sign_up
from tests.support.browser import PHONE, signed_in


def test_a_logo_too_large_to_send_gets_a_page_saying_so(
    browser: Browser, live_server: LiveServer, client: httpx.Client, tmp_path: Path
) -> None:
    sign_up(client)
    context, page, console = signed_in(browser, live_server.url, client, PHONE)
    big = tmp_path / "logo.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 1024 * 1024))
    page.goto("/settings/business")
    page.locator('input[name="logo"]').set_input_files(str(big))
    console.expect_status(413)
    page.locator('form[action="/settings/business"] button[type="submit"]').first.click()
    expect(page.get_by_role("alert")).to_contain_text("That logo is too large: the limit is 1 MB.")
    console.assert_clean()
    context.close()
