"""The sign-in lock tells the truth: it warns before it locks, and a password reset lifts it.

Each test signs in from an address of its own (X-Forwarded-For, trusted from loopback as
behind a proxy), so its failures never count against the other tests' shared 127.0.0.1.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.conftest import LiveServer, MailSink
from tests.support.accounts import PASSWORD, log_in, sign_up_through_the_form, unique_email
from tests.support.forms import post_form

WRONG = "That email and password do not match an account."
WARNING = "One more wrong try locks sign-in for 15 minutes; you can reset your password instead."
LOCKED_NOW = "Sign-in is now locked for 15 minutes; you can reset your password instead."


def alert(response: httpx.Response) -> str:
    """The sign-in form's message, as a person reads it."""
    found = re.search(r'<p class="error-message" role="alert">([^<]*)</p>', response.text)
    assert found, response.text[:2000]
    return found.group(1)


def from_own_address(live_server: LiveServer) -> tuple[httpx.Client, str]:
    ip = f"198.51.{random.randint(0, 255)}.{random.randint(1, 254)}"
    client = httpx.Client(base_url=live_server.url, headers={"X-Forwarded-For": ip}, timeout=20)
    return client, ip


@pytest.fixture
def stranger(live_server: LiveServer) -> Iterator[httpx.Client]:
    client, _ = from_own_address(live_server)
    with client:
        yield client


def test_the_last_try_before_the_lock_warns_and_says_the_same_for_unknown_emails(
    client: httpx.Client, live_server: LiveServer, stranger: httpx.Client
) -> None:
    limit = live_server.settings.login_max_failures_per_account
    account = sign_up_through_the_form(client)
    answers: dict[str, list[str]] = {}
    for email in (account.email, unique_email("nobody")):
        messages = []
        for _ in range(limit):
            response = log_in(stranger, email, "not my password")
            assert response.status_code == 401
            messages.append(alert(response))
        answers[email] = messages
        blocked = log_in(stranger, email, PASSWORD)
        assert blocked.status_code == 429
        assert alert(blocked) == (
            "Too many failed sign-in attempts. Try again in 15 minutes, or reset your password."
        )

    mine, unknown = answers.values()
    assert mine == unknown, "the messages must not tell which emails have an account"
    assert mine[: limit - 2] == [WRONG] * (limit - 2)
    assert mine[-2] == f"{WRONG} {WARNING}"
    assert mine[-1] == f"{WRONG} {LOCKED_NOW}"


def test_a_password_reset_lifts_the_account_lock_but_not_the_address_count(
    client: httpx.Client,
    live_server: LiveServer,
    mail_sink: MailSink,
    redis_client: redis.Redis,
) -> None:
    limit = live_server.settings.login_max_failures_per_account
    account = sign_up_through_the_form(client)
    stranger, ip = from_own_address(live_server)
    with stranger:
        for _ in range(limit):
            assert log_in(stranger, account.email, "not my password").status_code == 401
        assert log_in(stranger, account.email, PASSWORD).status_code == 429

        asked = post_form(
            stranger, "/forgot-password", {"email": account.email}, csrf_page="/forgot-password"
        )
        assert asked.status_code == 200
        live_server.run_jobs()
        link = re.search(r"(/reset-password\?token=\S+)", mail_sink.wait_for(account.email))
        assert link
        path = link.group(1)
        new_password = "a fresh password 42"
        done = post_form(
            stranger,
            "/reset-password",
            {
                "token": path.split("token=", 1)[1],
                "password": new_password,
                "password_confirm": new_password,
            },
            csrf_page=path,
        )
        assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"

        signed_in = log_in(stranger, account.email, new_password)
        assert signed_in.status_code == 303, signed_in.text[:2000]
        assert stranger.get("/api/v1/me").json()["email"] == account.email
    # The address's own count is another attacker's budget: a reset does not refill it.
    assert int(redis_client.get(f"login-fail:ip:{ip}") or 0) == limit


def test_a_lock_on_the_address_does_not_offer_a_reset(
    live_server: LiveServer, stranger: httpx.Client
) -> None:
    for _ in range(live_server.settings.login_max_failures_per_ip):
        assert log_in(stranger, unique_email("guess"), "guessing").status_code == 401
    blocked = log_in(stranger, unique_email("guess"), "guessing")
    assert blocked.status_code == 429
    assert alert(blocked) == (
        "Too many failed sign-in attempts from this network. Try again in 15 minutes."
    )
