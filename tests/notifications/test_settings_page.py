"""The notifications settings page over real HTTP: every role has one, its forms carry the
CSRF token, choices save whole or not at all, and only one's own devices can be removed."""

from __future__ import annotations

import base64
import os
import re
import uuid
from typing import Any

import httpx
import jwt
import psycopg
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clientcompass.auth.sessions import SESSION_KEY
from clientcompass.notifications.kinds import CHANNELS, LABELS, Kind
from clientcompass.notifications.outbox import PUSH_TASK
from tests.conftest import LiveServer
from tests.support import factories
from tests.support.accounts import invite_and_join, sign_up
from tests.support.forms import api_headers, csrf_from, post_form

PAGE = "/settings/notifications"
PREFERENCES = "/api/v1/notification-preferences"


def browser_subscription() -> dict[str, Any]:
    """What `PushSubscription.toJSON()` gives: a fresh P-256 key and auth secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )

    def encode(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return {
        "endpoint": f"https://push.example.test/send/{uuid.uuid4().hex}",
        "keys": {"p256dh": encode(point), "auth": encode(os.urandom(16))},
    }


def add_device(client: httpx.Client, owner_conn: psycopg.Connection, label: str) -> str:
    """A device of the member `client` is signed in as (its test push job dropped)."""
    added = client.post(
        "/api/v1/push-subscriptions",
        json={**browser_subscription(), "device_label": label},
        headers=api_headers(client),
    )
    assert added.status_code == 201, added.text
    device_id: str = added.json()["id"]
    owner_conn.execute(
        "delete from procrastinate_jobs where task_name = %s and args->'subscription_ids' ? %s",
        (PUSH_TASK, device_id),
    )
    return device_id


def all_ticked() -> dict[str, str]:
    return {f"{kind.value}.{channel.value}": "on" for kind in Kind for channel in CHANNELS[kind]}


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_every_role_has_the_page_with_its_three_parts(
    client: httpx.Client, live_server: LiveServer, role: str
) -> None:
    sign_up(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as member:
        invite_and_join(client, member, role=role)
        page = member.get(PAGE)
    assert page.status_code == 200
    html = page.text
    assert 'href="/settings/notifications" class="active">Notifications</a>' in html
    assert "Enable notifications on this device" in html
    assert "Your devices" in html and 'data-testid="no-devices"' in html
    for kind in Kind:
        assert LABELS[kind] in html
    assert 'name="digest.email"' in html and 'name="digest.push"' not in html
    assert 'name="quiet_start"' in html and 'type="time"' in html
    assert "Africa/Johannesburg" in html, "quiet hours name the business's time zone"
    assert 'name="hide_content"' in html
    key = re.search(r'data-vapid-key="([A-Za-z0-9_-]+)"', html)
    assert key and len(key.group(1)) == 87
    assert re.search(r'<script src="/static/notifications\.[0-9a-f]{12}\.js" defer>', html)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline script"
    assert " style=" not in html and "<style" not in html
    forms = re.findall(r"<form\b.*?</form>", html, flags=re.S)
    assert len(forms) >= 2
    assert all('name="csrf_token"' in form for form in forms if 'method="post"' in form)


def test_signed_out_the_page_sends_you_to_sign_in(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as nobody:
        answer = nobody.get(PAGE)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=%2Fsettings%2Fnotifications")


def test_saving_the_form_stores_every_choice_and_shows_it_saved(client: httpx.Client) -> None:
    sign_up(client)
    ticked = all_ticked()
    del ticked["new_conversation.email"]
    del ticked["handoff.push"]
    del ticked["digest.email"]
    saved = post_form(
        client,
        PAGE,
        {**ticked, "quiet_start": "21:30", "quiet_end": "06:00", "hide_content": "on"},
        csrf_page=PAGE,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{PAGE}?saved=preferences"

    stored = client.get(PREFERENCES).json()
    assert stored["channels"]["new_conversation"] == {"push": True, "email": False}
    assert stored["channels"]["handoff"] == {"push": False, "email": True}
    assert stored["channels"]["digest"] == {"email": False}
    assert stored["channels"]["invoice_paid"] == {"push": True, "email": True}
    assert stored["quiet_hours"] == {"start": "21:30", "end": "06:00"}
    assert stored["hide_content"] is True

    page = client.get(saved.headers["location"]).text
    assert 'data-testid="saved"' in page and "Saved." in page
    assert re.search(r'name="handoff\.push"[^>]*>', page)
    assert not re.search(r'name="handoff\.push"[^>]*checked', page)
    assert re.search(r'name="handoff\.email"[^>]*checked', page)
    assert 'value="21:30"' in page and 'value="06:00"' in page
    assert re.search(r'name="hide_content"[^>]*checked', page)

    # Clearing both times (and every box) turns quiet hours and everything off.
    cleared = post_form(client, PAGE, {"quiet_start": "", "quiet_end": ""}, csrf_page=PAGE)
    assert cleared.status_code == 303
    stored = client.get(PREFERENCES).json()
    assert stored["quiet_hours"] is None and stored["hide_content"] is False
    assert not any(on for choice in stored["channels"].values() for on in choice.values())


@pytest.mark.parametrize(
    ("times", "field", "says"),
    [
        ({"quiet_start": "22:00", "quiet_end": ""}, "quiet_end", "Set both a start and an end"),
        ({"quiet_start": "", "quiet_end": "06:00"}, "quiet_start", "Set both a start and an end"),
        ({"quiet_start": "10pm", "quiet_end": "06:00"}, "quiet_start", "HH:MM"),
        ({"quiet_start": "22:00", "quiet_end": "22:00"}, "quiet_end", "same time"),
    ],
)
def test_bad_quiet_hours_show_an_error_and_change_nothing(
    client: httpx.Client, times: dict[str, str], field: str, says: str
) -> None:
    sign_up(client)
    headers = api_headers(client)
    kept = {"quiet_hours": {"start": "20:00", "end": "07:00"}, "hide_content": False}
    assert client.put(PREFERENCES, json=kept, headers=headers).status_code == 200
    before = client.get(PREFERENCES).json()

    refused = post_form(
        client, PAGE, {**all_ticked(), **times, "hide_content": "on"}, csrf_page=PAGE
    )
    assert refused.status_code == 422
    html = refused.text
    assert 'data-testid="error-summary"' in html
    assert f'href="#f-{field}"' in html and says in html
    assert f'id="err-{field}"' in html
    # What was typed stays in the form, to be put right.
    assert re.search(r'name="hide_content"[^>]*checked', html)
    assert client.get(PREFERENCES).json() == before


def test_only_my_own_device_is_removed_from_the_page(
    client: httpx.Client, live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as agent,
        httpx.Client(base_url=live_server.url, timeout=20) as stranger,
    ):
        invite_and_join(client, agent, role="agent")
        sign_up(stranger)
        phone = add_device(client, owner_conn, "My phone")
        laptop = add_device(client, owner_conn, "My laptop")
        agents = add_device(agent, owner_conn, "Agent phone")

        page = client.get(PAGE).text
        assert "My phone" in page and "My laptop" in page and "Agent phone" not in page
        assert f'action="/settings/notifications/devices/{phone}/remove"' in page

        removed = post_form(client, f"{PAGE}/devices/{phone}/remove", {}, csrf_page=PAGE)
        assert removed.status_code == 303
        assert removed.headers["location"] == f"{PAGE}?saved=device-removed"
        after = client.get(removed.headers["location"]).text
        assert "The device was removed" in after
        assert "My phone" not in after and "My laptop" in after

        teammates = post_form(client, f"{PAGE}/devices/{agents}/remove", {}, csrf_page=PAGE)
        assert teammates.status_code == 404
        other = post_form(stranger, f"{PAGE}/devices/{laptop}/remove", {}, csrf_page=PAGE)
        assert other.status_code == 404
        assert "Agent phone" in agent.get(PAGE).text
        assert "My laptop" in client.get(PAGE).text


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    device = add_device(client, owner_conn, "Kept phone")
    for path, data in (
        (PAGE, {"hide_content": "on"}),
        (f"{PAGE}/devices/{device}/remove", {}),
    ):
        refused = client.post(path, data=data)
        assert refused.status_code == 403, path
        assert "This form has expired" in refused.text
        forged = client.post(path, data={**data, "csrf_token": "forged"})
        assert forged.status_code == 403
    assert client.get(PREFERENCES).json()["hide_content"] is False
    assert "Kept phone" in client.get(PAGE).text


def test_after_the_session_ends_a_save_or_removal_goes_to_sign_in_and_changes_nothing(
    client: httpx.Client,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
    redis_client: redis.Redis,
) -> None:
    account = sign_up(client)
    device = add_device(client, owner_conn, "Kept phone")
    token = csrf_from(client.get(PAGE).text)
    claims = jwt.decode(
        client.cookies["cc_session"], live_server.settings.secret_key, algorithms=["HS256"]
    )
    redis_client.delete(SESSION_KEY.format(sid=claims["sid"]))
    for path in (PAGE, f"{PAGE}/devices/{device}/remove"):
        ended = client.post(
            path,
            data={"hide_content": "on", "csrf_token": token},
            headers={"referer": f"{live_server.url}{PAGE}"},
        )
        assert ended.status_code == 303
        assert ended.headers["location"].startswith("/login?next=%2Fsettings%2Fnotifications")
    assert client.get(PAGE).status_code == 303

    # Signed in again, nothing had changed.
    factories.sign_in(client, account)
    assert "Kept phone" in client.get(PAGE).text
    assert client.get(PREFERENCES).json()["hide_content"] is False
