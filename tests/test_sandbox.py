"""The WhatsApp sandbox: try the product end to end with no Twilio account.

A member plays the customer on the /sandbox phone; the business answers from the inbox;
the Twilio stand-in carries both ways with signed webhooks and plays delivery ticks.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from clientcompass.auth.passwords import verify_password
from clientcompass.config import Environment, Settings, generate_key_spec
from clientcompass.errors import ConfigurationError
from clientcompass.sandbox.provision import DEMO_BUSINESS, DEMO_EMAIL, DemoTenant, provision_demo
from clientcompass.twilio_standin import create_standin
from tests.conftest import (
    APP_ROLE,
    CHROMIUM,
    CHROMIUM_ARGS,
    Databases,
    LiveServer,
    StandinServer,
    free_port,
    settings_env,
)
from tests.helpers import (
    invite_and_join,
    page_csrf,
    post_form,
    run_async,
    sign_up,
    unique_email,
)
from tests.test_browser import (
    DESKTOP,
    PHONE,
    Console,
    new_page,
    shot,
)
from tests.test_browser import sign_up as sign_up_in_browser
from tests.whatsapp_helpers import connect_channel, conversation_with, customer_says, wait_for

StartServer = Callable[..., LiveServer]
XSS = "<img src=x onerror=alert(1)>"
# A 1x1 PNG: the smallest photo a customer can send.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
TICK_ORDER = ["pending", "sent", "delivered", "read"]


# -- fixtures and helpers --------------------------------------------------------------


@pytest.fixture
def server_variant(live_server: LiveServer) -> Iterator[StartServer]:
    servers: list[LiveServer] = []

    def start(**changes: object) -> LiveServer:
        port = free_port()
        variant = live_server.settings.model_copy(
            update={"port": port, "public_base_url": f"http://127.0.0.1:{port}", **changes}
        )
        server = LiveServer(variant).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@contextlib.contextmanager
def running_worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """The real `clientcompass worker`, for as long as a conversation needs replies sent."""
    process = subprocess.Popen(
        [sys.executable, "-m", "clientcompass", "worker"], env=settings_env(settings)
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
        time.sleep(0.1)
    raise AssertionError(f"ticks never reached read: {seen}")


def provision(settings: Settings) -> DemoTenant:
    """`serve`'s provisioning, on its own thread: the browser tests hold this one's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        demo = pool.submit(provision_demo, settings).result()
    assert demo is not None
    return demo


def assert_moves_forward_to_read(seen: list[str]) -> None:
    assert seen[0] != "read" and seen[-1] == "read", seen
    assert len(seen) >= 2, seen
    ranks = [TICK_ORDER.index(state) for state in seen]
    assert ranks == sorted(ranks), f"ticks went backwards: {seen}"


def csrf_of(page: Page) -> str:
    return page.locator('meta[name="csrf-token"]').get_attribute("content") or ""


def quick_reply_template(standin: StandinServer, account_sid: str) -> str:
    """An approved quick-reply template in the stand-in, as the business would have one."""
    token = standin.app.state.standin.accounts[account_sid].auth_token
    created = httpx.post(
        f"{standin.url}/v1/Content",
        auth=(account_sid, token),
        json={
            "friendly_name": f"book_{uuid.uuid4().hex[:6]}",
            "language": "en",
            "variables": {"1": "Tuesday"},
            "types": {
                "twilio/quick-reply": {
                    "body": "Shall we book you in for {{1}}?",
                    "actions": [
                        {"title": "Yes please", "id": "book_yes"},
                        {"title": "No thanks", "id": "book_no"},
                    ],
                },
                "twilio/text": {"body": "Shall we book you in for {{1}}?"},
            },
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    sid: str = created.json()["sid"]
    standin.control("POST", f"content/{sid}/approval", json={"status": "approved"})
    return sid


# -- the browser journey ---------------------------------------------------------------


def in_own_browser(scenario: Callable[[Browser], None]) -> None:
    """Run `scenario` with its own chromium on its own thread.

    test_browser.py's session-wide sync Playwright owns this thread's event loop, and a
    second one cannot start beside it; on a fresh thread it can.
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


@pytest.mark.browser
def test_customer_writes_on_the_sandbox_phone_and_sees_the_reply_tick_to_read(
    live_server: LiveServer, standin: StandinServer
) -> None:
    in_own_browser(lambda browser: sandbox_journey(browser, live_server, standin))


def sandbox_journey(browser: Browser, live_server: LiveServer, standin: StandinServer) -> None:
    """Customer on the phone, business in the inbox, one browser context (one signed-in user)."""
    with running_worker(live_server.settings), paced_delivery(standin):
        context, phone, console = new_page(browser, live_server.url, PHONE)
        sign_up_in_browser(
            phone, unique_email("sandbox"), f"Sandbox Plumbing {uuid.uuid4().hex[:4]}"
        )

        # Settings → WhatsApp → Connect the sandbox: lands on the phone.
        phone.goto("/settings/whatsapp")
        phone.get_by_role("button", name="Connect the sandbox").click()
        expect(phone).to_have_url(re.compile(r"/sandbox$"))
        thread = phone.get_by_test_id("phone-thread")
        expect(thread).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        customer = phone.get_by_test_id("customer-phone").inner_text()
        assert re.fullmatch(r"\+2783\d{7}", customer), customer

        # The customer writes; the message is on the phone at once, and the composer clears.
        phone.get_by_test_id("phone-message").fill("Hi, my geyser is leaking")
        phone.get_by_test_id("phone-send").click()
        mine = thread.locator('[data-from="customer"]')
        expect(mine).to_have_count(1)
        expect(mine).to_contain_text("Hi, my geyser is leaking")
        expect(phone.get_by_test_id("phone-message")).to_have_value("")

        # …and a photo.
        phone.get_by_test_id("phone-image").set_input_files(
            {"name": "leak.png", "mimeType": "image/png", "buffer": PIXEL}
        )
        expect(phone.get_by_test_id("phone-file-name")).to_contain_text("leak.png")
        phone.get_by_test_id("phone-send").click()
        expect(mine).to_have_count(2)
        photo = mine.nth(1).locator("img.bubble-image")
        expect(photo).to_be_visible()
        wait_for(lambda: photo.evaluate("img => img.naturalWidth") == 1, message="the photo")

        # The business sees the conversation in its inbox, in a second page.
        inbox = context.new_page()
        inbox_console = Console(inbox)
        inbox.goto("/inbox")
        row = inbox.get_by_test_id("conversation").filter(has_text=customer)
        expect(row).to_contain_text("Window open")
        row.click()
        expect(inbox).to_have_url(re.compile(r"/inbox/[0-9a-f-]{36}$"))
        business_thread = inbox.get_by_test_id("thread")
        expect(business_thread).to_contain_text("Hi, my geyser is leaking")
        expect(business_thread.locator("img.bubble-image")).to_be_visible(timeout=20_000)

        # The business replies: queued first, then the worker sends it through the stand-in.
        inbox.locator('textarea[name="body"]').fill("Sorry to hear! We can come at 14:00.")
        inbox.get_by_role("button", name="Send").click()
        expect(inbox).to_have_url(re.compile(r"/inbox/[0-9a-f-]{36}$"))
        reply = business_thread.locator('[data-testid="bubble"].out')
        expect(reply).to_contain_text("We can come at 14:00.")

        # On the phone the reply arrives, and its ticks move forward to blue.
        theirs = thread.locator('[data-from="business"]')
        expect(theirs).to_have_count(1, timeout=20_000)
        expect(theirs).to_contain_text("Sorry to hear! We can come at 14:00.")
        assert_moves_forward_to_read(tick_progress(theirs.locator(".ticks")))
        expect(theirs.locator(".ticks-read")).to_be_visible()
        # The business's copy reaches read too.
        expect(reply.locator(".ticks")).to_have_attribute("data-tick", "read", timeout=20_000)

        # A quick-reply template: the customer taps a button, the business sees the choice.
        conversation_id = inbox.url.rsplit("/", 1)[1]
        senders = standin.control("GET", "senders").json()
        sandbox_number = phone.locator(".phone-title .small").inner_text().split(" ")[0]
        [sender] = [s for s in senders if s["from"] == f"whatsapp:{sandbox_number}"]
        content_sid = quick_reply_template(standin, sender["account_sid"])
        sent = inbox.request.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            data=json.dumps(
                {
                    "template": {
                        "content_sid": content_sid,
                        "variables": {"1": "Tuesday"},
                        "preview": "Shall we book you in for Tuesday?",
                    }
                }
            ),
            headers={"content-type": "application/json", "x-csrf-token": csrf_of(inbox)},
        )
        assert sent.status == 202, sent.text()
        expect(theirs).to_have_count(2, timeout=20_000)
        expect(theirs.nth(1)).to_contain_text("Shall we book you in for Tuesday?")
        theirs.nth(1).get_by_role("button", name="Yes please").click()
        expect(mine).to_have_count(3)
        expect(mine.nth(2)).to_contain_text("Yes please")
        expect(business_thread.locator(".bubble-button")).to_contain_text("Yes please")
        shot(phone, "sandbox")
        phone.set_viewport_size(DESKTOP)
        shot(phone, "sandbox")
        shot(inbox, "conversation")
        inbox.goto("/inbox")
        shot(inbox, "inbox-list")

        console.assert_clean()
        inbox_console.assert_clean()
        context.close()


# -- HTTP ------------------------------------------------------------------------------


def test_sandbox_is_not_there_when_disabled(server_variant: StartServer) -> None:
    server = server_variant(sandbox=False)
    with httpx.Client(base_url=server.url, timeout=20) as client:
        sign_up(client)
        assert client.get("/sandbox").status_code == 404
        token = page_csrf(client, "/settings/whatsapp")
        assert client.post("/sandbox/connect", data={"csrf_token": token}).status_code == 404
        assert client.get("/__twilio/_control/senders").status_code == 404
        assert "Connect the sandbox" not in client.get("/settings/whatsapp").text
        assert client.get("/inbox").status_code == 200


def test_sandbox_is_refused_in_production_and_on_by_default_in_development() -> None:
    production = Settings.model_validate({"env": Environment.PRODUCTION})
    assert not production.sandbox_enabled
    assert production.twilio_api_base_url == "https://api.twilio.com"
    with pytest.raises(ConfigurationError, match="SANDBOX=true is not allowed in production"):
        Settings.model_validate(
            {"env": Environment.PRODUCTION, "sandbox": True, "secret_key": "k" * 40}
        ).ensure_secrets()

    development = Settings.model_validate({"env": Environment.DEVELOPMENT, "port": 8123})
    assert development.sandbox_enabled and development.sandbox_is_built_in
    assert development.twilio_api_base_url == "http://127.0.0.1:8123/__twilio"
    assert development.twilio_content_base_url == "http://127.0.0.1:8123/__twilio"

    explicit = Settings.model_validate(
        {"env": Environment.DEVELOPMENT, "twilio_api_base_url": "http://127.0.0.1:9/"}
    )
    assert explicit.sandbox_enabled and not explicit.sandbox_is_built_in
    assert explicit.twilio_content_base_url == "https://content.twilio.com"
    assert not Settings.model_validate({"sandbox": False}).sandbox_enabled


def test_connecting_the_sandbox_wires_one_channel_and_the_phone_talks_to_the_inbox(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> None:
    sign_up(client)
    page = client.get("/sandbox")
    assert page.status_code == 200 and "Connect the sandbox" in page.text
    for _ in range(2):
        connected = post_form(client, "/sandbox/connect", {}, csrf_page="/settings/whatsapp")
        assert connected.status_code == 303 and connected.headers["location"] == "/sandbox"
    sandboxes = [c for c in client.get("/api/v1/channels").json() if c["is_sandbox"]]
    assert len(sandboxes) == 1
    [channel] = sandboxes
    [sender] = [
        s for s in standin.control("GET", "senders").json() if s["from"] == channel["whatsapp_from"]
    ]
    assert sender["inbound_url"] == channel["inbound_webhook_url"]
    assert sender["status_url"] == channel["status_callback_url"]
    assert "Connect the sandbox" not in client.get("/settings/whatsapp").text

    # The phone keeps this browser's customer in a cookie and sends as them.
    phone_page = client.get("/sandbox")
    customer = client.cookies.get("cc_sandbox_phone")
    assert customer and customer in phone_page.text
    empty = post_form(client, "/sandbox/send", {"body": "  "}, csrf_page="/sandbox")
    assert empty.status_code == 422 and "Type a message" in empty.text
    sent = post_form(client, "/sandbox/send", {"body": XSS}, csrf_page="/sandbox")
    assert sent.status_code == 303, sent.text[:300]
    shown = client.get("/sandbox/thread")
    assert XSS not in shown.text and "&lt;img src=x onerror=alert(1)&gt;" in shown.text
    version = re.search(r'data-version="(\w+)"', shown.text)
    assert (
        version and client.get("/sandbox/thread", params={"v": version.group(1)}).status_code == 204
    )

    conversation = conversation_with(client, customer)
    assert conversation["contact"]["profile_name"] == "Sandbox customer"
    inbox = client.get(f"/inbox/{conversation['id']}")
    assert inbox.status_code == 200
    assert XSS not in inbox.text and "&lt;img src=x onerror=alert(1)&gt;" in inbox.text

    # Another customer number starts another conversation.
    switched = client.get("/sandbox", params={"phone_number": "083 555 0101", "name": "Lerato"})
    assert switched.status_code == 303 and client.cookies.get("cc_sandbox_phone") == "+27835550101"
    bad = client.get("/sandbox", params={"phone_number": "12"})
    assert bad.status_code == 422


def test_agents_play_the_customer_but_only_managers_connect(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        invite_and_join(client, agent)
        assert agent.get("/sandbox").status_code == 200
        refused = post_form(agent, "/sandbox/connect", {}, csrf_page="/sandbox")
        assert refused.status_code == 403


def test_inbox_escapes_what_customers_write(client: httpx.Client, standin: StandinServer) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = f"+2782{uuid.uuid4().int % 10_000_000:07d}"
    customer_says(standin, channel, phone, XSS, profile_name="<script>alert(2)</script>")
    conversation = conversation_with(client, phone)
    for path in ("/inbox", "/inbox/rows", f"/inbox/{conversation['id']}"):
        html = client.get(path).text
        assert XSS not in html and "<script>alert(2)" not in html, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, path
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html, path
    # Opening the conversation marks it read.
    assert conversation["unread_count"] == 1
    assert conversation_with(client, phone)["unread_count"] == 0


def test_a_reply_outside_the_window_is_refused_with_the_reason(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = f"+2782{uuid.uuid4().int % 10_000_000:07d}"
    customer_says(standin, channel, phone, "Are you open on Sunday?")
    conversation = conversation_with(client, phone)
    owner_conn.execute(
        "update conversations set last_inbound_at = now() - interval '25 hours' where id = %s",
        (conversation["id"],),
    )
    path = f"/inbox/{conversation['id']}"
    refused = post_form(client, f"{path}/messages", {"body": "Yes, 9 to 1"}, csrf_page=path)
    assert refused.status_code == 422
    assert "24-hour window closed" in refused.text
    assert "Yes, 9 to 1</textarea>" in refused.text
    assert "Window closed" in refused.text
    messages = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    assert [m["direction"] for m in messages["messages"]] == ["inbound"]


def test_demo_tenant_is_provisioned_once_and_kept_wired(
    tmp_path: Path, migrated: Databases, redis_url: str, owner_conn: psycopg.Connection
) -> None:
    settings = Settings.model_validate(
        {
            "env": Environment.DEVELOPMENT,
            "data_dir": tmp_path,
            "port": free_port(),
            "database_url": migrated.owner_url,
            "database_app_role": APP_ROLE,
            "redis_url": redis_url,
            "secret_key": "s" * 48,
            "encryption_keys": generate_key_spec("k1"),
            "log_level": "WARNING",
        }
    )
    assert settings.sandbox_is_built_in
    first = provision(settings)
    second = provision(settings)
    assert first.created and not second.created
    assert first.tenant_id == second.tenant_id and first.password == second.password
    assert (tmp_path / "demo-password.txt").read_text().strip() == first.password
    assert ((tmp_path / "demo-password.txt").stat().st_mode & 0o777) == 0o600

    users = owner_conn.execute(
        "select tenant_id, password_hash from users where email = %s", (DEMO_EMAIL,)
    ).fetchall()
    assert len(users) == 1 and users[0][0] == first.tenant_id
    assert verify_password(users[0][1], first.password)
    assert owner_conn.execute(
        "select name from tenants where id = %s", (first.tenant_id,)
    ).fetchone() == (DEMO_BUSINESS,)
    channels = owner_conn.execute(
        "select whatsapp_from, sends_per_second, webhook_key from channels "
        "where tenant_id = %s and is_sandbox",
        (first.tenant_id,),
    ).fetchall()
    assert len(channels) == 1
    whatsapp_from, per_second, key = channels[0]
    assert whatsapp_from == first.whatsapp_from and per_second == pytest.approx(1 / 3)

    # The stand-in's state file wires the sender to this app's webhooks.
    state = json.loads(settings.sandbox_state_file.read_text())
    [sender] = state["senders"]
    assert sender["address"] == whatsapp_from
    assert sender["inbound_url"] == f"{settings.base_url}/webhooks/twilio/{key}/inbound"
    assert [a["sid"] for a in state["accounts"]] == [sender["account_sid"]]

    # Lost files are healed: a new working password, and the sender registered again.
    (tmp_path / "demo-password.txt").unlink()
    settings.sandbox_state_file.unlink()
    third = provision(settings)
    assert third.tenant_id == first.tenant_id
    assert third.password != first.password
    new_hash = owner_conn.execute(
        "select password_hash from users where email = %s", (DEMO_EMAIL,)
    ).fetchone()
    assert new_hash is not None and verify_password(new_hash[0], third.password)
    assert json.loads(settings.sandbox_state_file.read_text())["senders"][0]["address"] == (
        whatsapp_from
    )


def test_standin_keeps_accounts_and_senders_in_its_state_file(tmp_path: Path) -> None:
    path = tmp_path / "standin.json"
    first = create_standin(state_file=path)
    transport = httpx.ASGITransport(app=first)

    async def configure() -> dict[str, str]:
        async with httpx.AsyncClient(transport=transport, base_url="http://standin") as http:
            account = (await http.post("/_control/accounts", json={})).json()
            response = await http.post(
                "/_control/senders",
                json={
                    "account_sid": account["account_sid"],
                    "from": "whatsapp:+27601234567",
                    "inbound_url": "http://127.0.0.1:1/in",
                    "status_url": "http://127.0.0.1:1/status",
                },
            )
            assert response.status_code == 200
            return dict(account)

    account = run_async(configure)
    assert (path.stat().st_mode & 0o777) == 0o600
    reloaded = create_standin(state_file=path).state.standin
    assert reloaded.accounts[account["account_sid"]].auth_token == account["auth_token"]
    assert reloaded.senders["whatsapp:+27601234567"].inbound_url == "http://127.0.0.1:1/in"
    assert reloaded.messages == {}
