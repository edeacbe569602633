"""The notifications settings page in Chromium on a 360 px phone: choices save and survive a
reload, a device is removed, and "Enable notifications on this device" shows each outcome.

Headless Chromium has no push service: `pushManager.subscribe()` is refused in Playwright's
incognito contexts ("Registration failed - permission denied") and hangs in a persistent
profile (no FCM connection). So the not-supported, blocked and failed states are tested as
the browser really gives them, and the one test of a working subscribe replaces only
`PushManager.subscribe` with the local push service stand-in's subscription: the page's own
script, the real service worker, the real API and the real push job do the rest, and the
stand-in decrypts the test notification as the phone would.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from clientcompass.notifications import push
from clientcompass.notifications.outbox import PUSH_TASK
from tests.conftest import LiveServer
from tests.support import push_service
from tests.support.accounts import sign_up
from tests.support.browser import PHONE, shot, signed_in
from tests.support.forms import api_headers
from tests.support.jobs import run_jobs_until

pytestmark = pytest.mark.browser

PAGE = "/settings/notifications"

# The browser's own push service, played by the stand-in; everything else is real.
STAND_IN_SUBSCRIBE = """
(() => {
  const made = %s;
  let current = null;
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
  PushManager.prototype.subscribe = function (options) {
    sessionStorage.setItem("subscribed", JSON.stringify({
      userVisibleOnly: options.userVisibleOnly,
      key: Array.from(new Uint8Array(options.applicationServerKey)),
    }));
    current = {
      endpoint: made.endpoint,
      options: { applicationServerKey: options.applicationServerKey },
      toJSON: () => made,
      unsubscribe: () => Promise.resolve(true),
    };
    return Promise.resolve(current);
  };
})();
"""
# The permission prompt, answered when the test says so (to see the page while it waits).
HELD_PROMPT = """
window.__prompt = new Promise((resolve) => { window.__answer = resolve; });
Notification.requestPermission = () => window.__prompt;
"""


def fits_phone(page: Page, path: str) -> None:
    """No sideways scrolling, and every control a 44 px tap target; a checkbox's target is
    its label (the box itself is drawn small, as everywhere in the app)."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"{path} scrolls sideways ({scroll_width}px)"
    small = page.evaluate(
        """() => [...document.querySelectorAll('main button, main input:not([type=hidden]),'
            + ' main select, main textarea')]
          .filter(el => el.offsetParent !== null)
          .map(el => el.type === 'checkbox' ? el.closest('label') || el : el)
          .filter(el => el.getBoundingClientRect().height < 44)
          .map(el => el.outerHTML.slice(0, 80))"""
    )
    assert small == [], f"{path}: tap targets under 44px: {small}"
    # Both channels' columns in view: a half-hidden "Email" column goes unnoticed.
    hidden = page.evaluate(
        """() => { const box = document.querySelector('[data-testid=choices]').parentElement;
            return box.scrollWidth - box.clientWidth; }"""
    )
    assert hidden <= 0, f"{path}: the choices table hides {hidden}px to the side"


@pytest.fixture(scope="module")
def pushes() -> Iterator[push_service.PushService]:
    yield from push_service.running()


def test_on_a_phone_choices_save_survive_a_reload_and_a_device_is_removed(
    browser: Browser,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
    pushes: push_service.PushService,
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        sign_up(owner)
        added = owner.post(
            "/api/v1/push-subscriptions",
            json={**pushes.subscribe("unused"), "device_label": "Old tablet"},
            headers=api_headers(owner),
        )
        assert added.status_code == 201, added.text
        device_id = added.json()["id"]
        owner_conn.execute(
            "delete from procrastinate_jobs where task_name = %s and args->'subscription_ids' ? %s",
            (PUSH_TASK, device_id),
        )
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            page.goto(PAGE)
            expect(page.get_by_role("heading", name="What to notify me about")).to_be_visible()
            shot(page, "notifications-phone")
            fits_phone(page, PAGE)

            handoff_push = page.locator('input[name="handoff.push"]')
            expect(handoff_push).to_be_checked()  # the default: push tells you everything
            handoff_push.uncheck()
            page.locator('input[name="new_conversation.email"]').uncheck()
            page.locator('input[name="invoice_paid.email"]').check()
            page.locator('input[name="hide_content"]').check()
            page.locator('input[name="quiet_start"]').fill("22:00")
            page.locator('input[name="quiet_end"]').fill("06:30")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_test_id("saved")).to_contain_text("Saved.")

            page.reload()
            expect(page.locator('input[name="handoff.push"]')).not_to_be_checked()
            expect(page.locator('input[name="handoff.email"]')).not_to_be_checked()
            expect(page.locator('input[name="new_conversation.email"]')).not_to_be_checked()
            expect(page.locator('input[name="invoice_paid.email"]')).to_be_checked()
            expect(page.locator('input[name="assigned.push"]')).to_be_checked()
            expect(page.locator('input[name="hide_content"]')).to_be_checked()
            expect(page.locator('input[name="quiet_start"]')).to_have_value("22:00")
            expect(page.locator('input[name="quiet_end"]')).to_have_value("06:30")
            assert owner.get("/api/v1/notification-preferences").json()["quiet_hours"] == {
                "start": "22:00",
                "end": "06:30",
            }

            # Half a quiet-hours window is refused, said beside the field, and nothing changes.
            page.locator('input[name="quiet_end"]').fill("")
            page.locator('input[name="hide_content"]').uncheck()
            console.expect_status(422)
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_test_id("error-summary")).to_contain_text("Set both a start")
            expect(page.locator("#err-quiet_end")).to_be_visible()
            fits_phone(page, PAGE + " (with an error)")
            stored = owner.get("/api/v1/notification-preferences").json()
            assert stored["quiet_hours"] == {"start": "22:00", "end": "06:30"}
            assert stored["hide_content"] is True

            page.goto(PAGE)
            row = page.locator(f'[data-device-id="{device_id}"]')
            expect(row).to_contain_text("Old tablet")
            expect(row).to_contain_text("not notified yet")
            row.get_by_role("button", name="Remove").click()
            expect(page.get_by_test_id("saved")).to_contain_text("The device was removed")
            expect(page.locator(f'[data-device-id="{device_id}"]')).to_have_count(0)
            expect(page.get_by_test_id("no-devices")).to_be_visible()
            assert console.dialogs and "Old tablet" in console.dialogs[-1]
            assert owner.get("/api/v1/push-subscriptions").json() == []
            console.assert_clean()
        finally:
            context.close()


def test_enabling_stores_this_device_and_its_test_notification_reaches_it(
    browser: Browser,
    live_server: LiveServer,
    pushes: push_service.PushService,
) -> None:
    key = push.vapid_public_key(live_server.settings.ensure_secrets())
    made = pushes.subscribe(key)
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        sign_up(owner)
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            context.grant_permissions(["notifications"])
            context.add_init_script(STAND_IN_SUBSCRIBE % json.dumps(made))
            page.goto(PAGE)
            expect(page.get_by_test_id("no-devices")).to_be_visible()
            page.get_by_test_id("enable-push").click()

            expect(page).to_have_url(re.compile(r"\?saved=device-added$"))
            expect(page.get_by_test_id("saved")).to_contain_text("Notifications are on")
            expect(page.locator('[data-push-state="enabled"]')).to_be_visible()
            expect(page.locator("[data-this-device]")).to_have_text("This device")
            shot(page, "notifications-enabled")
            expect(page.get_by_test_id("enable-push")).to_have_text(
                "Send a test notification again"
            )
            devices = owner.get("/api/v1/push-subscriptions").json()
            assert len(devices) == 1 and devices[0]["label"] == "Chrome on Linux"
            assert devices[0]["endpoint_host"] == "127.0.0.1"
            # The page gave the browser our VAPID key, decoded to its 65 bytes.
            subscribed = json.loads(page.evaluate("sessionStorage.getItem('subscribed')"))
            raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
            assert subscribed == {"userVisibleOnly": True, "key": list(raw)}

            delivered = run_jobs_until(
                live_server,
                lambda: pushes.deliveries(made["endpoint"]),
                message="the test notification",
            )
            assert delivered[0].payload == {
                "title": "Notifications are on",
                "body": "You'll get notifications on this device.",
                "url": "/settings/notifications",
                "tag": "test",
            }
            console.assert_clean()
        finally:
            context.close()


def test_the_enable_button_says_when_this_browser_cannot_have_notifications(
    browser: Browser, live_server: LiveServer
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        sign_up(owner)
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            context.add_init_script("delete window.PushManager;")
            page.goto(PAGE)
            expect(page.locator('[data-push-state="unsupported"]')).to_be_visible()
            expect(page.locator('[data-push-state="unsupported"]')).to_contain_text(
                "Add to Home Screen"
            )
            expect(page.get_by_test_id("enable-push")).to_be_disabled()
            console.assert_clean()
        finally:
            context.close()


def test_a_blocked_prompt_says_how_to_allow_notifications(
    browser: Browser, live_server: LiveServer
) -> None:
    """Headless Chromium answers the permission prompt "denied" by itself, as a person
    tapping Block would."""
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        sign_up(owner)
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            page.goto(PAGE)
            denied = page.locator('[data-push-state="denied"]')
            expect(denied).to_be_hidden()
            page.get_by_test_id("enable-push").click()
            expect(denied).to_be_visible()
            expect(denied).to_contain_text("set Notifications to Allow")
            expect(page.get_by_test_id("enable-push")).to_be_enabled()
            assert owner.get("/api/v1/push-subscriptions").json() == []
            console.assert_clean()
        finally:
            context.close()


def test_while_it_works_the_button_waits_and_a_failure_is_shown(
    browser: Browser, live_server: LiveServer
) -> None:
    """Allowed, but this browser's push service refuses (as headless Chromium's does)."""
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        sign_up(owner)
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            context.grant_permissions(["notifications"])
            context.add_init_script(HELD_PROMPT)
            page.goto(PAGE)
            button = page.get_by_test_id("enable-push")
            button.click()
            expect(page.locator("[data-push-progress]")).to_have_text(
                "Asking your browser for permission…"
            )
            expect(button).to_be_disabled()
            expect(button).to_have_attribute("aria-busy", "true")

            console.allowed.append(re.compile("does not support the Push API in incognito"))
            page.evaluate("window.__answer('granted')")
            failed = page.locator('[data-push-state="error"]')
            expect(failed).to_be_visible()
            expect(failed).to_contain_text("Notifications could not be turned on")
            expect(failed).to_contain_text("Try again")
            expect(button).to_be_enabled()
            expect(page.locator("[data-push-progress]")).to_have_text("")
            assert owner.get("/api/v1/push-subscriptions").json() == []
            console.assert_clean()
        finally:
            context.close()
