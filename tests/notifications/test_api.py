"""The notifications API: a person's devices (add, list, remove) and their choices (get, put).

Everything is the caller's own: a teammate's or another business's device is "not found",
a refused change changes nothing, and every route needs a token or a live session (with its
CSRF header for a change).
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import psycopg
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clientcompass.auth.sessions import SESSION_KEY
from clientcompass.notifications import push
from clientcompass.notifications.kinds import CHANNELS, DEFAULTS, Kind
from clientcompass.notifications.outbox import PUSH_TASK
from tests.auth.helpers import bearer, create_token
from tests.conftest import LiveServer
from tests.support import push_service
from tests.support.accounts import invite_and_join, sign_up
from tests.support.forms import api_headers
from tests.support.jobs import run_jobs_until

ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
DEVICES = "/api/v1/push-subscriptions"
PREFERENCES = "/api/v1/notification-preferences"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def browser_subscription(**extra: Any) -> dict[str, Any]:
    """What `PushSubscription.toJSON()` gives in a browser: a fresh P-256 key and auth secret."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {
        "endpoint": f"https://push.example.test/send/{uuid.uuid4().hex}",
        "expirationTime": None,
        "keys": {"p256dh": b64url(point), "auth": b64url(os.urandom(16))},
        **extra,
    }


def queued_pushes(owner_conn: psycopg.Connection, subscription_id: str) -> list[dict[str, Any]]:
    """The push jobs queued for one device, removed once read: no test push goes out to a
    made-up push service from another test's job run."""
    rows = owner_conn.execute(
        "delete from procrastinate_jobs where task_name = %s "
        "and args->'subscription_ids' ? %s returning args",
        (PUSH_TASK, subscription_id),
    ).fetchall()
    return [row[0] for row in rows]


def test_a_device_is_added_with_a_test_push_listed_and_removed_with_a_token(
    client: httpx.Client, live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    _, secret = create_token(client)
    subscription = browser_subscription()
    with bearer(live_server.url, secret) as api:
        added = api.post(DEVICES, json=subscription, headers={"User-Agent": ANDROID_CHROME})
        assert added.status_code == 201, added.text
        device = added.json()
        assert device["label"] == "Chrome on Android"
        assert device["endpoint_host"] == "push.example.test"
        assert device["last_used_at"] is None
        assert set(device) == {"id", "label", "endpoint_host", "created_at", "last_used_at"}
        assert subscription["keys"]["p256dh"] not in added.text, "keys are never shown"

        pushes = queued_pushes(owner_conn, device["id"])
        assert len(pushes) == 1
        assert pushes[0]["tenant_id"] == str(account.tenant_id)
        assert pushes[0]["push"]["title"] == "Notifications are on"
        assert pushes[0]["push"]["url"] == "/settings/notifications"
        assert pushes[0]["push"]["tag"] == "test"

        assert [d["id"] for d in api.get(DEVICES).json()] == [device["id"]]
        assert api.delete(f"{DEVICES}/{device['id']}").status_code == 204
        assert api.get(DEVICES).json() == []
        again = api.delete(f"{DEVICES}/{device['id']}")
        assert again.status_code == 404
        assert again.json()["error"]["code"] == "not_found"


@pytest.fixture(scope="module")
def pushes() -> Iterator[push_service.PushService]:
    yield from push_service.running()


def test_the_test_notification_reaches_the_new_device_and_marks_it_used(
    client: httpx.Client, live_server: LiveServer, pushes: push_service.PushService
) -> None:
    sign_up(client)
    made = pushes.subscribe(push.vapid_public_key(live_server.settings.ensure_secrets()))
    device = client.post(DEVICES, json=made, headers=api_headers(client)).json()
    delivered = run_jobs_until(
        live_server, lambda: pushes.deliveries(made["endpoint"]), message="the test push"
    )
    # Decrypted with the subscription's own keys, as the browser would.
    assert delivered[0].payload == {
        "title": "Notifications are on",
        "body": "You'll get notifications on this device.",
        "url": "/settings/notifications",
        "tag": "test",
    }
    listed = client.get(DEVICES).json()
    assert [d["id"] for d in listed] == [device["id"]]
    assert listed[0]["last_used_at"] is not None


def test_subscribing_the_same_browser_again_updates_the_one_device(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    headers = api_headers(client)
    first = browser_subscription()
    device = client.post(DEVICES, json=first, headers=headers).json()
    renewed = browser_subscription(endpoint=first["endpoint"], device_label="Work phone")
    again = client.post(DEVICES, json=renewed, headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] == device["id"]
    listed = client.get(DEVICES).json()
    assert [(d["id"], d["label"]) for d in listed] == [(device["id"], "Work phone")]
    assert len(queued_pushes(owner_conn, device["id"])) == 2, "each subscribe sends a test"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endpoint": "http://push.example.test/x"}, "endpoint"),
        ({"endpoint": "not a url"}, "endpoint"),
        ({"keys": {"p256dh": "short", "auth": b64url(os.urandom(16))}}, "p256dh"),
        ({"keys": {"p256dh": b64url(b"\x04" + os.urandom(64)), "auth": "!"}}, "auth"),
        ({"keys": {"p256dh": b64url(b"\x04" + os.urandom(64))}}, "keys.auth"),
        ({"device_label": "x" * 121}, "device_label"),
    ],
)
def test_a_malformed_subscription_is_refused_by_field_and_nothing_is_stored(
    client: httpx.Client, change: dict[str, Any], field: str
) -> None:
    sign_up(client)
    refused = client.post(
        DEVICES, json={**browser_subscription(), **change}, headers=api_headers(client)
    )
    assert refused.status_code == 422, refused.text
    assert field in refused.json()["error"]["fields"]
    assert client.get(DEVICES).json() == []


def test_a_teammates_or_another_businesss_device_is_not_found(
    client: httpx.Client, live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as agent,
        httpx.Client(base_url=live_server.url, timeout=20) as stranger,
    ):
        invite_and_join(client, agent, role="agent")
        sign_up(stranger)
        mine = client.post(DEVICES, json=browser_subscription(), headers=api_headers(client))
        theirs = agent.post(DEVICES, json=browser_subscription(), headers=api_headers(agent))
        mine_id, theirs_id = mine.json()["id"], theirs.json()["id"]
        for made in (mine_id, theirs_id):
            queued_pushes(owner_conn, made)

        # An owner manages the business, not a teammate's phone.
        refused = client.delete(f"{DEVICES}/{theirs_id}", headers=api_headers(client))
        assert refused.status_code == 404
        assert [d["id"] for d in client.get(DEVICES).json()] == [mine_id]
        other = stranger.delete(f"{DEVICES}/{mine_id}", headers=api_headers(stranger))
        assert other.status_code == 404
        assert stranger.get(DEVICES).json() == []
        assert [d["id"] for d in agent.get(DEVICES).json()] == [theirs_id]
        assert [d["id"] for d in client.get(DEVICES).json()] == [mine_id]


def test_the_vapid_key_is_the_servers_public_key_as_a_browser_takes_it(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    answer = client.get(f"{DEVICES}/vapid-public-key")
    assert answer.status_code == 200
    key = answer.json()["application_server_key"]
    assert key == push.vapid_public_key(live_server.settings.ensure_secrets())
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4, "an uncompressed P-256 point"


def expected_defaults() -> dict[str, dict[str, bool]]:
    return {
        kind.value: {channel.value: DEFAULTS[kind][channel] for channel in CHANNELS[kind]}
        for kind in Kind
    }


def test_preferences_start_at_the_defaults_and_a_put_replaces_them(client: httpx.Client) -> None:
    sign_up(client)
    start = client.get(PREFERENCES)
    assert start.status_code == 200
    assert start.json() == {
        "channels": expected_defaults(),
        "quiet_hours": None,
        "hide_content": False,
    }
    assert start.json()["channels"]["digest"] == {"email": True}

    chosen = {
        "channels": {
            "new_conversation": {"push": False, "email": True},
            "invoice_paid": {"push": False},
            "digest": {"email": False},
        },
        "quiet_hours": {"start": "22:00", "end": "06:30"},
        "hide_content": True,
    }
    saved = client.put(PREFERENCES, json=chosen, headers=api_headers(client))
    assert saved.status_code == 200, saved.text
    expected = expected_defaults()
    expected["new_conversation"] = {"push": False, "email": True}
    expected["invoice_paid"]["push"] = False
    expected["digest"] = {"email": False}
    body = {"channels": expected, "quiet_hours": chosen["quiet_hours"], "hide_content": True}
    assert saved.json() == body
    assert client.get(PREFERENCES).json() == body

    # What GET gives can be PUT back as it is; no quiet hours is null.
    back = {**body, "quiet_hours": None}
    assert client.put(PREFERENCES, json=back, headers=api_headers(client)).json() == back
    assert client.get(PREFERENCES).json() == back


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"channels": {"new_lead": {"push": True}}}, "channels.new_lead", "not a field we know"),
        ({"channels": {"handoff": {"sms": True}}}, "channels.handoff.sms", "not a field we know"),
        ({"channels": {"digest": {"push": True}}}, "channels.digest", "email only"),
        ({"channels": {"assigned": {"push": "yes"}}}, "channels.assigned.push", "yes or no"),
        ({"quiet_hours": {"start": "25:00", "end": "06:00"}}, "quiet_hours.start", "HH:MM"),
        ({"quiet_hours": {"start": "10pm", "end": "06:00"}}, "quiet_hours.start", "HH:MM"),
        ({"quiet_hours": {"start": "22:00"}}, "quiet_hours.end", "Fill this in"),
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "quiet_hours", "same time"),
        ({"hide_content": "true"}, "hide_content", "yes or no"),
        ({"mute_everything": True}, "mute_everything", "not a field we know"),
    ],
)
def test_a_bad_preference_is_refused_by_name_and_nothing_changes(
    client: httpx.Client, body: dict[str, Any], field: str, says: str
) -> None:
    sign_up(client)
    headers = api_headers(client)
    kept = {"channels": {"assigned": {"push": False}}, "quiet_hours": None, "hide_content": True}
    assert client.put(PREFERENCES, json=kept, headers=headers).status_code == 200
    before = client.get(PREFERENCES).json()

    refused = client.put(PREFERENCES, json=body, headers=headers)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert says in error["fields"][field]
    assert field in error["message"]
    assert client.get(PREFERENCES).json() == before


ROUTES = [
    ("GET", DEVICES, None),
    ("POST", DEVICES, browser_subscription()),
    ("DELETE", f"{DEVICES}/3f2b8c1e-6d4a-4f5e-9b7c-2a1d0e9f8c7b", None),  # nobody's
    ("GET", f"{DEVICES}/vapid-public-key", None),
    ("GET", PREFERENCES, None),
    ("PUT", PREFERENCES, {"hide_content": True}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_no_token_or_session_is_refused(
    live_server: LiveServer, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as nobody:
        refused = nobody.request(method, path, json=body)
    assert refused.status_code == 401
    with bearer(live_server.url, "cct_not-a-real-token") as forged:
        assert forged.request(method, path, json=body).status_code == 401


def test_a_session_change_without_its_csrf_header_is_refused_and_changes_nothing(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    device = client.post(DEVICES, json=browser_subscription(), headers=api_headers(client))
    device_id = device.json()["id"]
    queued_pushes(owner_conn, device_id)

    for method, path, body in (
        ("POST", DEVICES, browser_subscription()),
        ("DELETE", f"{DEVICES}/{device_id}", None),
        ("PUT", PREFERENCES, {"hide_content": True}),
    ):
        refused = client.request(method, path, json=body)
        assert refused.status_code == 403, (method, path)
        assert refused.json()["error"]["code"] == "csrf_failed"
        forged = client.request(method, path, json=body, headers={"X-CSRF-Token": "forged"})
        assert forged.status_code == 403
    assert [d["id"] for d in client.get(DEVICES).json()] == [device_id]
    assert client.get(PREFERENCES).json()["hide_content"] is False


def test_an_ended_session_is_refused(
    client: httpx.Client, live_server: LiveServer, redis_client: redis.Redis
) -> None:
    sign_up(client)
    headers = api_headers(client)
    claims = jwt.decode(
        client.cookies["cc_session"], live_server.settings.secret_key, algorithms=["HS256"]
    )
    redis_client.delete(SESSION_KEY.format(sid=claims["sid"]))  # as when 24 idle hours end
    assert client.get(DEVICES).status_code == 401
    ended = client.post(DEVICES, json=browser_subscription(), headers=headers)
    assert ended.status_code == 401
    assert ended.json()["error"]["code"] == "signed_out"
    assert client.put(PREFERENCES, json={}, headers=headers).status_code == 401


def test_the_api_schema_documents_devices_and_preferences(client: httpx.Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/push-subscriptions"])
    assert "delete" in paths["/api/v1/push-subscriptions/{subscription_id}"]
    assert "get" in paths["/api/v1/push-subscriptions/vapid-public-key"]
    assert {"get", "put"} <= set(paths["/api/v1/notification-preferences"])
    channels = schema["components"]["schemas"]["Channels"]["properties"]
    assert set(channels) == {kind.value for kind in Kind}
    created = paths["/api/v1/push-subscriptions"]["post"]["responses"]
    assert "201" in created and "4XX" in created
