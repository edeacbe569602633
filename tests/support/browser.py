"""Real browsers for the tests: Debian's chromium driven by Playwright.

Set CC_SCREENSHOTS=/some/dir to also save full-page screenshots of the pages visited.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Dialog,
    Locator,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, StandinServer
from tests.support.accounts import PASSWORD

PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
SHOTS = os.environ.get("CC_SCREENSHOTS", "")
TICK_ORDER = ["pending", "sent", "delivered", "read"]


class Console:
    """Collects console errors (CSP violations show up here) and uncaught page errors, and
    answers confirmation dialogs as a person would (yes, unless `answer` is set to False),
    keeping their questions in `dialogs`."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.allowed: list[re.Pattern[str]] = []
        self.dialogs: list[str] = []
        self.answer = True
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        if self.answer:
            dialog.accept()
        else:
            dialog.dismiss()

    def _console(self, message: object) -> None:
        if message.type == "error":  # type: ignore[attr-defined]
            where = message.location.get("url", "")  # type: ignore[attr-defined]
            text = f"{message.text} ({where})"  # type: ignore[attr-defined]
            if not any(pattern.search(text) for pattern in self.allowed):
                self.errors.append(text)

    def expect_status(self, status: int | str) -> None:
        """A page is meant to answer `status` (a code or a regex); chromium logs that as an error."""
        self.allowed.append(re.compile(rf"status of {status}\b"))

    def assert_clean(self) -> None:
        assert self.errors == [], "console errors:\n" + "\n".join(self.errors)
        self.allowed.clear()


def new_page(
    browser: Browser, base_url: str, viewport: ViewportSize
) -> tuple[BrowserContext, Page, Console]:
    context = browser.new_context(base_url=base_url, viewport=viewport, locale="en-ZA")
    context.set_default_timeout(10_000)
    page = context.new_page()
    return context, page, Console(page)


def signed_in(
    browser: Browser, base_url: str, http: httpx.Client, viewport: ViewportSize, **extra: Any
) -> tuple[BrowserContext, Page, Console]:
    """A browser context carrying the session `http` signed in with."""
    context = browser.new_context(base_url=base_url, viewport=viewport, locale="en-ZA", **extra)
    context.set_default_timeout(15_000)
    context.add_cookies(
        [{"name": c.name, "value": c.value or "", "url": base_url} for c in http.cookies.jar]
    )
    page = context.new_page()
    return context, page, Console(page)


def in_own_browser(scenario: Callable[[Browser], None]) -> None:
    """Run `scenario` with its own chromium on its own thread.

    The session-wide sync Playwright (the `browser` fixture) owns this thread's event loop,
    and a second one cannot start beside it; on a fresh thread it can.
    """
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")

    def run() -> None:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                scenario(browser)
            finally:
                browser.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(run).result()


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        width = page.viewport_size["width"] if page.viewport_size else 0
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}.png"))
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}-full.png"), full_page=True)


def fill(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.locator(f'[name="{name}"]').fill(value)


def sign_up(page: Page, email: str, business_name: str) -> None:
    """Sign up through the form; lands on the business settings with a welcome."""
    page.goto("/signup")
    fill(
        page,
        {
            "business_name": business_name,
            "owner_name": "Thandi Mokoena",
            "email": email,
            "password": PASSWORD,
        },
    )
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/settings/business\?welcome=1$"))
    expect(page.get_by_role("status")).to_contain_text("Welcome")
    expect(page.locator('input[name="trading_name"]')).to_have_value(business_name)


def assert_fits_phone(page: Page, path: str) -> None:
    """No sideways scrolling, and every control in the page is a comfortable tap target."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"{path} scrolls sideways ({scroll_width}px)"
    small = page.evaluate(
        """() => [...document.querySelectorAll('main button, main input:not([type=hidden]),'
            + ' main select, main textarea, .topbar button, .topbar a')]
          .filter(el => el.offsetParent !== null && el.getBoundingClientRect().height < 44)
          .map(el => el.outerHTML.slice(0, 80))"""
    )
    assert small == [], f"{path}: tap targets under 44px: {small}"


# -- delivery ticks, as a person watches them -------------------------------------------


@contextlib.contextmanager
def paced_delivery(standin: StandinServer, seconds: float = 1.5) -> Iterator[None]:
    """Slow the stand-in's sent → delivered → read so each tick is seen on the way."""
    state = standin.app.state.standin
    before = state.progress_delays
    state.progress_delays = (seconds, seconds, seconds)
    try:
        yield
    finally:
        state.progress_delays = before


def tick_progress(ticks: Locator, timeout: float = 30) -> list[str]:
    """Every tick state shown until `read`, in the order seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = ticks.get_attribute("data-tick", timeout=5_000) or ""
        if not seen or seen[-1] != state:
            seen.append(state)
        if state == "read":
            return seen
        time.sleep(0.1)  # the sampling rate: every state is held for at least a second
    raise AssertionError(f"ticks never reached read: {seen}")


def assert_moves_forward_to_read(seen: list[str]) -> None:
    assert seen[0] != "read" and seen[-1] == "read", seen
    assert len(seen) >= 2, seen
    ranks = [TICK_ORDER.index(state) for state in seen]
    assert ranks == sorted(ranks), f"ticks went backwards: {seen}"
