"""The installable app in Chromium, on a 360 px phone: the service worker registers and
controls the page, the manifest passes the checks an install prompt makes, a push delivered
through the DevTools protocol shows its notification and a click on it opens the
conversation, and offline the app shows its own offline page and keeps a typed reply until
the phone is back online, then sends it once.

Offline is Chromium's own network emulation (`context.set_offline`). It once left a service
worker's fetches online (microsoft/playwright#2311, worked around with
PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS and a route); with today's Playwright and
Chromium it covers the worker too, which the offline page appearing on reload proves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Route, expect

from tests.conftest import LiveServer, StandinServer
from tests.support.browser import PHONE, assert_fits_phone, shot, signed_in
from tests.support.shop import Shop, close_window, shop_with_customer, thread
from tests.support.whatsapp import conversation_with

pytestmark = pytest.mark.browser
OFFLINE_NOISE = re.compile(r"ERR_INTERNET_DISCONNECTED|net::ERR_|htmx:(sendError|afterRequest)")


@pytest.fixture
def shop(live_server: LiveServer, standin: StandinServer) -> Iterator[Shop]:
    with httpx.Client(base_url=live_server.url, timeout=20) as http:
        yield shop_with_customer(http, standin)


def open_controlled(context: BrowserContext, page: Page, path: str) -> None:
    """Open `path` and wait until the service worker controls it (the first visit installs
    and activates it; clients.claim() takes the open page)."""
    page.goto(path)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")


def outbound_with(http: httpx.Client, conversation_id: str, text: str) -> list[dict[str, Any]]:
    return [
        m
        for m in thread(http, conversation_id)
        if m["direction"] == "outbound" and m["body"] == text
    ]


def test_the_worker_controls_the_app_and_the_manifest_is_installable(
    browser: Browser, live_server: LiveServer, shop: Shop
) -> None:
    context, page, console = signed_in(browser, live_server.url, shop.client, PHONE)
    page.goto("/inbox")
    registered = page.evaluate(
        """() => navigator.serviceWorker.ready.then(r => ({
            scope: r.scope, script: r.active && r.active.scriptURL}))"""
    )
    assert registered == {"scope": f"{live_server.url}/", "script": f"{live_server.url}/sw.js"}
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == (
        f"{live_server.url}/sw.js"
    )
    # What Chromium checks before it offers "Install app" (Lighthouse's installable audit).
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    assert href == "/manifest.webmanifest"
    manifest = page.request.get(href).json()
    assert manifest["name"] and manifest["short_name"]
    assert manifest["start_url"] == "/inbox" and manifest["display"] == "standalone"
    assert manifest["scope"] == "/"
    sizes = set()
    for icon in manifest["icons"]:
        fetched = page.request.get(icon["src"])
        assert fetched.ok and fetched.headers["content-type"] == "image/png", icon
        sizes.add((icon["sizes"], icon.get("purpose", "any")))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    start = page.request.get(manifest["start_url"])
    assert start.ok
    assert (
        page.evaluate("document.querySelector('meta[name=theme-color]').content")
        == (manifest["theme_color"])
    )
    # The shell is cached under this release's version; no page and no API answer is.
    cached = page.evaluate(
        """async () => {
            const names = await caches.keys();
            const urls = [];
            for (const name of names) {
              for (const request of await (await caches.open(name)).keys()) {
                urls.push(new URL(request.url).pathname);
              }
            }
            return {names, urls};
        }"""
    )
    assert len(cached["names"]) == 1 and cached["names"][0].startswith("cc-shell-")
    assert "/offline" in cached["urls"]
    assert any(re.fullmatch(r"/static/app\.[0-9a-f]{12}\.css", url) for url in cached["urls"])
    assert not [url for url in cached["urls"] if url.startswith(("/inbox", "/api"))]
    console.assert_clean()
    context.close()


def worker_registration(page: Page, cdp: CDPSession, origin: str) -> str:
    """The registration id of our worker, as the DevTools protocol reports it."""
    seen: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: seen.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(100):  # the sync API delivers events only while it is called
        ours = [r["registrationId"] for r in seen if r["scopeURL"] == f"{origin}/"]
        if ours:
            return ours[-1]
        page.wait_for_timeout(100)
    raise AssertionError(f"no registration for {origin}/ in {seen}")


def notifications(page: Page) -> list[dict[str, Any]]:
    """The notifications our worker shows now."""
    shown: list[dict[str, Any]] = page.evaluate(
        """() => navigator.serviceWorker.ready
            .then(r => r.getNotifications())
            .then(list => list.map(n => ({title: n.title, body: n.body, tag: n.tag,
                                          data: n.data, icon: n.icon, badge: n.badge})))"""
    )
    return shown


def deliver(page: Page, cdp: CDPSession, registration: str, push: dict[str, str]) -> dict[str, Any]:
    """Push `push` to our worker through DevTools, as a push service would, and return the
    notification it shows. DevTools now and then drops a push sent to a worker it is waking
    (a push service redelivers too), so an unshown one is sent again; one tag, one notice."""
    origin = page.url.split("/inbox", 1)[0]
    for _ in range(3):
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": registration, "data": json.dumps(push)},
        )
        for _ in range(50):  # handled asynchronously, in the worker
            found = [n for n in notifications(page) if n["tag"] == push["tag"]]
            if found:
                return found[0]
            page.wait_for_timeout(100)
    raise AssertionError(f"no notification for {push}: {notifications(page)}")


def test_a_push_shows_its_notification_and_a_click_opens_the_conversation(
    browser: Browser, live_server: LiveServer, shop: Shop
) -> None:
    conversation_id = conversation_with(shop.client, shop.phone)["id"]
    context, page, console = signed_in(browser, live_server.url, shop.client, PHONE)
    context.grant_permissions(["notifications"], origin=live_server.url)
    open_controlled(context, page, "/inbox")
    cdp = context.new_cdp_session(page)
    registration = worker_registration(page, cdp, live_server.url)

    target = f"/inbox/{conversation_id}"
    push = {"title": "New message from Sipho", "body": "Is 3 pm fine?", "url": target, "tag": "c1"}
    shown = deliver(page, cdp, registration, push)
    assert shown["title"] == "New message from Sipho"
    assert shown["body"] == "Is 3 pm fine?"
    assert shown["tag"] == "c1"
    assert shown["data"] == {"url": target}
    assert re.search(r"/static/icons/icon-192\.[0-9a-f]{12}\.png$", shown["icon"])
    assert re.search(r"/static/icons/badge-96\.[0-9a-f]{12}\.png$", shown["badge"])

    # A payload pointing off the site is not followed: its click would open the inbox.
    evil = {**push, "url": "https://evil.example/phish", "tag": "c2"}
    assert deliver(page, cdp, registration, evil)["data"] == {"url": "/inbox"}
    assert sorted(n["tag"] for n in notifications(page)) == ["c1", "c2"]

    # The click logic, run in the worker: our open tab is taken to the conversation.
    [worker] = context.service_workers
    assert worker.evaluate("self.openTarget('//evil.example/x').then(c => c === null)")
    assert page.url == f"{live_server.url}/inbox"
    worker.evaluate(f"self.openTarget({json.dumps(target)}).then(() => true)")
    expect(page).to_have_url(f"{live_server.url}{target}")
    expect(page.get_by_test_id("thread")).to_contain_text("geyser element")
    assert len(context.pages) == 1  # the open tab was used, no new one
    console.assert_clean()
    context.close()


def test_offline_the_app_shows_its_own_page_and_a_reply_goes_out_once_on_reconnect(
    browser: Browser, live_server: LiveServer, shop: Shop
) -> None:
    conversation_id = conversation_with(shop.client, shop.phone)["id"]
    path = f"/inbox/{conversation_id}"
    context, page, console = signed_in(browser, live_server.url, shop.client, PHONE)

    open_controlled(context, page, path)
    expect(page.get_by_test_id("thread")).to_contain_text("geyser element")

    # Offline, the page's own requests fail (and htmx logs that): expected, not a bug.
    console.allowed.append(OFFLINE_NOISE)
    # Load-shedding: a reload gets the app's own offline page, not the browser's error.
    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="You're offline")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}{path}")
    assert_fits_phone(page, "the offline page")
    shot(page, "offline-page")
    # Back online, it opens the page it could not by itself (once the server answers).
    context.set_offline(False)
    expect(page.get_by_test_id("thread")).to_contain_text("geyser element", timeout=15_000)

    # A reply typed and sent without a connection stays, says so, and goes once on reconnect.
    context.set_offline(True)
    page.wait_for_function("navigator.onLine === false")
    reply = page.get_by_test_id("reply")
    reply.fill("On my way, 20 minutes")
    page.get_by_role("button", name="Send", exact=True).click()
    state = page.get_by_test_id("send-state")
    expect(state).to_contain_text("Will send when you're back online")
    expect(state).to_have_attribute("aria-live", "polite")
    expect(reply).to_have_value("On my way, 20 minutes")
    page.get_by_role("button", name="Send", exact=True).click()  # impatient: tapped again
    expect(state).to_contain_text("Will send when you're back online")
    shot(page, "offline-reply-waiting")
    assert outbound_with(shop.client, conversation_id, "On my way, 20 minutes") == []

    context.set_offline(False)
    sent = page.get_by_test_id("thread").locator(".bubble.out")
    expect(sent.filter(has_text="On my way, 20 minutes")).to_have_count(1)
    expect(page.get_by_test_id("reply")).to_have_value("")
    stored = outbound_with(shop.client, conversation_id, "On my way, 20 minutes")
    assert len(stored) == 1, stored
    # The next draft has a key of its own: the same words again are a new message.
    reply = page.get_by_test_id("reply")
    reply.fill("On my way, 20 minutes")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(sent.filter(has_text="On my way, 20 minutes")).to_have_count(2)
    assert len(outbound_with(shop.client, conversation_id, "On my way, 20 minutes")) == 2

    # The worst case: the reply reached the server but the answer was lost on the way back.
    # The composer cannot know, so it sends again on reconnect; the key makes that a no-op.
    lost: list[str] = []

    def answer_lost(route: Route) -> None:
        route.fetch(max_redirects=0)
        lost.append(route.request.url)
        route.abort("connectionreset")

    page.route("**/inbox/*/messages", answer_lost)
    page.get_by_test_id("reply").fill("Invoice is in the chat")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(state).to_contain_text("Will send when you're back online")
    assert len(lost) == 1
    assert len(outbound_with(shop.client, conversation_id, "Invoice is in the chat")) == 1
    page.unroute("**/inbox/*/messages", answer_lost)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(sent.filter(has_text="Invoice is in the chat")).to_have_count(1)
    expect(page.get_by_test_id("reply")).to_have_value("")
    assert len(outbound_with(shop.client, conversation_id, "Invoice is in the chat")) == 1
    console.assert_clean()
    context.close()


def test_a_refused_reply_still_shows_the_reason_with_the_text_kept(
    browser: Browser,
    live_server: LiveServer,
    shop: Shop,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
) -> None:
    """The composer sends with fetch now; a refusal still gets the server's own page."""
    conversation_id = conversation_with(shop.client, shop.phone)["id"]
    context, page, console = signed_in(browser, live_server.url, shop.client, PHONE)
    page.goto(f"/inbox/{conversation_id}")
    close_window(shop, standin, owner_conn)  # closes while the composer is open
    console.expect_status(422)
    page.get_by_test_id("reply").fill("Are you still there?")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_test_id("reply-error")).to_contain_text("24")
    expect(page.get_by_test_id("reply")).to_have_value("Are you still there?")
    assert outbound_with(shop.client, conversation_id, "Are you still there?") == []
    console.assert_clean()
    context.close()
