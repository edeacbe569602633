"""Where am I signed in: the device list on the account page, signing one device out, and
"sign out everywhere else". The other sessions are refused on their very next request."""

from __future__ import annotations

import re

import httpx

from tests.auth.helpers import bearer, create_token
from tests.conftest import LiveServer
from tests.support.accounts import log_in, sign_up
from tests.support.forms import api_headers, page_csrf, post_form

IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
WINDOWS_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
)


def devices(page: str) -> list[tuple[str, bool]]:
    """(label, this device?) of each row of the device list."""
    listing = page.split('data-testid="devices"', 1)[1].split("</ul>", 1)[0]
    rows = re.findall(
        r'<li data-device="\w+"\s*(data-current="true")?>\s*<div><strong>([^<]+)', listing
    )
    return [(label, bool(current)) for current, label in rows]


def handle_of(page: str, label: str) -> str:
    found = re.search(rf'data-device="(\w+)"[^>]*>\s*<div><strong>{re.escape(label)}<', page)
    assert found, f"no device {label}"
    return found.group(1)


def test_the_list_shows_each_device_and_signing_out_the_others_ends_them_at_once(
    client: httpx.Client, live_server: LiveServer
) -> None:
    owner = sign_up(client)
    with (
        httpx.Client(
            base_url=live_server.url, timeout=20, headers={"user-agent": IPHONE_UA}
        ) as phone,
        httpx.Client(
            base_url=live_server.url, timeout=20, headers={"user-agent": WINDOWS_UA}
        ) as pc,
    ):
        assert log_in(phone, owner.email).status_code == 303
        assert log_in(pc, owner.email).status_code == 303
        page = phone.get("/settings/account").text
        listed = devices(page)
        assert listed[0] == ("Safari on iPhone", True), listed
        assert ("Edge on Windows", False) in listed
        assert len(listed) == 3, "the factory's session too"
        assert "last used" in page

        # A forged post (no CSRF token) ends nothing.
        forged = phone.post("/settings/account/devices/sign-out-others")
        assert forged.status_code == 403
        assert pc.get("/api/v1/me").status_code == 200

        done = post_form(
            phone, "/settings/account/devices/sign-out-others", {}, csrf_page="/settings/account"
        )
        assert done.status_code == 303
        assert done.headers["location"].startswith("/settings/account?saved=signed-out-others")
        assert pc.get("/api/v1/me").status_code == 401, "the other session ends at once"
        assert pc.get("/inbox").status_code == 303
        assert client.get("/api/v1/me").status_code == 401
        assert phone.get("/api/v1/me").status_code == 200, "this device stays signed in"
        assert devices(phone.get("/settings/account").text) == [("Safari on iPhone", True)]
        recorded = phone.get("/api/v1/audit-events", params={"action": "sign_out_others"})
        event = recorded.json()["events"][0]
        assert event["details"] == {"sessions_ended": 2}
        assert event["device"] == "Safari on iPhone"


def test_one_device_is_signed_out_by_its_row(client: httpx.Client, live_server: LiveServer) -> None:
    owner = sign_up(client)
    with (
        httpx.Client(
            base_url=live_server.url, timeout=20, headers={"user-agent": IPHONE_UA}
        ) as phone,
        httpx.Client(
            base_url=live_server.url, timeout=20, headers={"user-agent": WINDOWS_UA}
        ) as pc,
    ):
        assert log_in(phone, owner.email).status_code == 303
        assert log_in(pc, owner.email).status_code == 303
        page = phone.get("/settings/account").text
        handle = handle_of(page, "Edge on Windows")
        assert "sid" not in page.lower().split('data-testid="devices"', 1)[1][:50]
        done = post_form(
            phone,
            "/settings/account/devices/sign-out",
            {"device": handle},
            csrf_page="/settings/account",
        )
        assert done.status_code == 303
        assert pc.get("/api/v1/me").status_code == 401
        assert client.get("/api/v1/me").status_code == 200, "only that one"
        # Again: it is already gone, and a made-up handle matches nothing.
        for junk in (handle, "0" * 32, "", "é" * 40):
            again = post_form(
                phone,
                "/settings/account/devices/sign-out",
                {"device": junk},
                csrf_page="/settings/account",
            )
            assert again.headers["location"].startswith("/settings/account?saved=device-gone")
        events = phone.get("/api/v1/audit-events", params={"action": "sign_out_device"}).json()
        assert [e["target_label"] for e in events["events"]] == ["Edge on Windows"]


def test_a_device_handle_of_someone_else_signs_nobody_out(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    victim_handle = handle_of(client.get("/settings/account").text, "python-httpx")
    with httpx.Client(base_url=live_server.url, timeout=20) as attacker:
        sign_up(attacker)
        token = page_csrf(attacker, "/settings/account")
        sent = attacker.post(
            "/settings/account/devices/sign-out",
            data={"device": victim_handle, "csrf_token": token},
        )
        assert sent.headers["location"].startswith("/settings/account?saved=device-gone")
    assert client.get("/api/v1/me").status_code == 200


def test_the_api_lists_devices_and_signs_them_out(
    client: httpx.Client, live_server: LiveServer
) -> None:
    owner = sign_up(client)
    with (
        httpx.Client(
            base_url=live_server.url, timeout=20, headers={"user-agent": IPHONE_UA}
        ) as phone,
        httpx.Client(
            base_url=live_server.url, timeout=20, headers={"user-agent": WINDOWS_UA}
        ) as pc,
    ):
        log_in(phone, owner.email)
        log_in(pc, owner.email)
        listed = phone.get("/api/v1/me/devices").json()
        assert (listed[0]["label"], listed[0]["current"]) == ("Safari on iPhone", True)
        assert all(len(d["device"]) == 32 for d in listed) and len(listed) == 3
        assert phone.post("/api/v1/me/devices/sign-out-others").status_code == 403  # no CSRF
        windows = next(d["device"] for d in listed if d["label"] == "Edge on Windows")
        headers = api_headers(phone)
        one = phone.post("/api/v1/me/devices/sign-out", json={"device": windows}, headers=headers)
        assert one.status_code == 204
        assert pc.get("/api/v1/me").status_code == 401
        again = phone.post("/api/v1/me/devices/sign-out", json={"device": windows}, headers=headers)
        assert again.status_code == 404
        rest = phone.post("/api/v1/me/devices/sign-out-others", headers=headers)
        assert rest.json() == {"signed_out": 1}  # the sign-up's session
        assert [d["label"] for d in phone.get("/api/v1/me/devices").json()] == ["Safari on iPhone"]
        # An API token has no browser session to list.
        _, secret = create_token(phone, "Zapier")
        with bearer(live_server.url, secret) as script:
            refused = script.get("/api/v1/me/devices")
        assert refused.status_code == 422 and "browser" in refused.text
