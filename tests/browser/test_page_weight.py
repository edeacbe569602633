"""What the inbox costs on South African mobile data: the bytes a phone moves for a cold
`/inbox` (empty cache) and for a reload with the cache, counted by chromium itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import sign_up
from tests.support.browser import PHONE, signed_in
from tests.support.whatsapp import connect_channel, customer_says, sa_mobile

pytestmark = pytest.mark.browser
COLD_BUDGET = 45_000
WARM_BUDGET = 10_000


class Transfer:
    """Encoded bytes received per request (headers and body, as they crossed the wire)."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.bytes: dict[str, float] = {}

    def response(self, event: dict[str, Any]) -> None:
        self.urls[event["requestId"]] = event["response"]["url"]
        self.bytes[event["requestId"]] = event["response"].get("encodedDataLength", 0)

    def data(self, event: dict[str, Any]) -> None:
        self.bytes[event["requestId"]] = (
            self.bytes.get(event["requestId"], 0) + event["encodedDataLength"]
        )

    def finished(self, event: dict[str, Any]) -> None:
        # The final count for a request that completed; SSE never does, and keeps its sum.
        self.bytes[event["requestId"]] = event["encodedDataLength"]

    def total(self) -> int:
        return int(sum(self.bytes.values()))

    def breakdown(self) -> str:
        rows = sorted(self.bytes.items(), key=lambda item: -item[1])
        return "\n".join(f"{int(n):>8} {self.urls.get(rid, rid)}" for rid, n in rows)


@contextmanager
def counting(context: BrowserContext, page: Page) -> Iterator[Transfer]:
    cdp = context.new_cdp_session(page)
    transfer = Transfer()
    cdp.on("Network.responseReceived", transfer.response)
    cdp.on("Network.dataReceived", transfer.data)
    cdp.on("Network.loadingFinished", transfer.finished)
    cdp.send("Network.enable")
    try:
        yield transfer
    finally:
        cdp.detach()


def settle(page: Page) -> None:
    """The inbox is live (its event stream connected) and nothing more is on its way."""
    expect(page.locator("[data-inbox]")).to_have_attribute("data-live", "on")
    page.wait_for_load_state("load")
    time.sleep(0.5)


def test_the_inbox_is_light_cold_and_lighter_warm(
    browser: Browser, live_server: LiveServer, standin: StandinServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        sign_up(owner)
        channel = connect_channel(owner, standin)
        customer_says(standin, channel, sa_mobile(), "Is the geyser quote ready?")
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            with counting(context, page) as cold:
                page.goto("/inbox")
                expect(page.get_by_test_id("conversation")).to_have_count(1)
                settle(page)
            assert cold.total() <= COLD_BUDGET, (
                f"a cold /inbox moved {cold.total()} bytes (budget {COLD_BUDGET}):\n"
                + cold.breakdown()
            )

            with counting(context, page) as warm:
                page.reload()
                settle(page)
            assert warm.total() <= WARM_BUDGET, (
                f"a warm /inbox moved {warm.total()} bytes (budget {WARM_BUDGET}):\n"
                + warm.breakdown()
            )
            print(f"\nBYTES /inbox cold={cold.total()} warm={warm.total()}")
            console.assert_clean()
        finally:
            context.close()
