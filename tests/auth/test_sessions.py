"""Sessions: the privacy policy's 24-hour sliding expiry, logout, and log out everywhere."""

from __future__ import annotations

import time

import httpx
import jwt
import redis

from clientcompass.auth.sessions import SESSION_KEY
from tests.conftest import LiveServer
from tests.support.accounts import log_in, sign_up_through_the_form
from tests.support.forms import post_form

DAY = 24 * 3600


def session_key(client: httpx.Client, secret: str) -> str:
    claims = jwt.decode(client.cookies["cc_session"], secret, algorithms=["HS256"])
    return SESSION_KEY.format(sid=claims["sid"])


def test_inactivity_expiry_is_24_hours_and_slides(
    client: httpx.Client, live_server: LiveServer, redis_client: redis.Redis
) -> None:
    sign_up_through_the_form(client)
    key = session_key(client, live_server.settings.secret_key)
    assert DAY - 5 <= redis_client.ttl(key) <= DAY
    redis_client.expire(key, 120)  # as if the user had been idle for almost a day
    assert client.get("/api/v1/me").status_code == 200
    assert DAY - 5 <= redis_client.ttl(key) <= DAY, "an authenticated request must slide the expiry"


def test_expired_session_rejects_its_jwt(
    client: httpx.Client, live_server: LiveServer, redis_client: redis.Redis
) -> None:
    sign_up_through_the_form(client)
    key = session_key(client, live_server.settings.secret_key)
    redis_client.delete(key)  # what Redis does when the 24 hours run out
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert client.get("/inbox").status_code == 303


def test_absolute_lifetime_ends_a_busy_session(
    client: httpx.Client, live_server: LiveServer, redis_client: redis.Redis
) -> None:
    sign_up_through_the_form(client)
    key = session_key(client, live_server.settings.secret_key)
    redis_client.hset(key, "created_at", repr(time.time() - 31 * DAY))
    assert client.get("/api/v1/me").status_code == 401
    assert not redis_client.exists(key)


def test_logout_kills_the_jwt_at_once(client: httpx.Client, live_server: LiveServer) -> None:
    sign_up_through_the_form(client)
    stolen = client.cookies["cc_session"]
    response = post_form(client, "/logout", {}, csrf_page="/settings/account")
    assert response.status_code == 303
    with httpx.Client(base_url=live_server.url) as attacker:
        attacker.cookies.set("cc_session", stolen)
        assert attacker.get("/api/v1/me").status_code == 401


def test_log_out_everywhere_kills_every_session(live_server: LiveServer) -> None:
    with (
        httpx.Client(base_url=live_server.url) as laptop,
        httpx.Client(base_url=live_server.url) as phone,
        httpx.Client(base_url=live_server.url) as colleague,
    ):
        account = sign_up_through_the_form(laptop)
        assert log_in(phone, account.email).status_code == 303
        other = sign_up_through_the_form(colleague)
        assert phone.get("/api/v1/me").status_code == 200
        response = post_form(phone, "/logout-everywhere", {}, csrf_page="/settings/account")
        assert response.status_code == 303
        assert laptop.get("/api/v1/me").status_code == 401
        assert phone.get("/api/v1/me").status_code == 401
        assert colleague.get("/api/v1/me").json()["email"] == other.email, "others stay signed in"


def test_stale_jwt_is_reissued_while_the_session_lives(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up_through_the_form(client)
    secret = live_server.settings.secret_key
    claims = jwt.decode(client.cookies["cc_session"], secret, algorithms=["HS256"])
    claims["exp"] = int(time.time()) - 60
    client.cookies.set("cc_session", jwt.encode(claims, secret, algorithm="HS256"))
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    fresh = jwt.decode(response.cookies["cc_session"], secret, algorithms=["HS256"])
    assert fresh["sid"] == claims["sid"] and fresh["exp"] > time.time()
