"""Confirming it's you before a destructive action (accounts/step_up.py), as a browser, an API
client or a test that moves the clock does it."""

from __future__ import annotations

import time

import httpx
import jwt
import redis as sync_redis

from clientcompass.accounts.step_up import STEP_UP_SECONDS
from clientcompass.auth.sessions import JWT_ALGORITHM, SESSION_KEY
from clientcompass.web.auth import SESSION_COOKIE
from tests.support import factories
from tests.support.factories import PASSWORD
from tests.support.forms import api_headers

# A JSON call's header that confirms the caller's own password (every test user's is PASSWORD).
CONFIRM = {"X-Confirm-Password": PASSWORD}


def confirm_headers(client: httpx.Client) -> dict[str, str]:
    """A cookie-authenticated JSON call that changes state and confirms the password."""
    return {**api_headers(client), **CONFIRM}


def step_up(client: httpx.Client, password: str = PASSWORD) -> httpx.Response:
    """Confirm the password for the client's session (POST /api/v1/me/step-up)."""
    return client.post(
        "/api/v1/me/step-up", json={"password": password}, headers=api_headers(client)
    )


def session_key(client: httpx.Client) -> str:
    """The Redis key of the session the client's cookie names."""
    settings = factories.settings_of(client)
    held = [cookie.value for cookie in client.cookies.jar if cookie.name == SESSION_COOKIE]
    assert len(held) == 1, "the client is not signed in"
    claims = jwt.decode(
        held[0], settings.secret_key, algorithms=[JWT_ALGORITHM], options={"verify_exp": False}
    )
    return SESSION_KEY.format(sid=claims["sid"])


def stepped_up_at(client: httpx.Client) -> float | None:
    """When the client's session last confirmed its password, as stored."""
    store = sync_redis.Redis.from_url(factories.settings_of(client).redis_url)
    try:
        value = store.hget(session_key(client), "stepped_up_at")
    finally:
        store.close()
    return float(value) if value is not None else None


def expire_step_up(client: httpx.Client, *, extra_seconds: int = 1) -> None:
    """Move the session's confirmation back past the window, instead of waiting it out."""
    store = sync_redis.Redis.from_url(factories.settings_of(client).redis_url)
    try:
        key = session_key(client)
        assert store.hexists(key, "stepped_up_at"), "the session never stepped up"
        store.hset(key, "stepped_up_at", repr(time.time() - STEP_UP_SECONDS - extra_seconds))
    finally:
        store.close()
