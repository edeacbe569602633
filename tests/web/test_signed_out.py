"""A change sent after the session ended says "You were signed out" (a forged one still fails
CSRF), and signing in again returns to the page it was sent from, never to another site."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import PASSWORD, sign_up
from tests.support.forms import page_csrf
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

CSRF_FAILED = "This form has expired or was not sent from Client Compass"


def end_sessions(live_server: LiveServer, client: httpx.Client) -> None:
    """Sign out everywhere from another tab: `client` keeps its (now dead) cookie."""
    with httpx.Client(base_url=live_server.url, cookies=client.cookies, timeout=20) as other:
        token = page_csrf(other, "/settings/account")
        ended = other.post("/logout-everywhere", data={"csrf_token": token})
        assert ended.status_code == 303, ended.text[:300]


def test_a_reply_sent_after_the_session_ended_says_signed_out_and_comes_back(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> None:
    account = sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Is the plumber coming today?")
    page = f"/inbox/{conversation_with(client, phone)['id']}"
    token = page_csrf(client, page)

    # A forged or stale token of a live session is still a CSRF failure, worded as one.
    forged = client.post(f"{page}/messages", data={"body": "Yes", "csrf_token": "forged"})
    assert forged.status_code == 403 and CSRF_FAILED in forged.text
    assert "signed out" not in forged.text

    end_sessions(live_server, client)
    sent = client.post(
        f"{page}/messages",
        data={"body": "Yes, at 2", "csrf_token": token},
        headers={"Referer": f"{live_server.url}{page}"},
    )
    assert sent.status_code == 303
    location = urlsplit(sent.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": [page], "signed_out": ["session"]}
    login = client.get(sent.headers["location"])
    assert "You were signed out" in login.text and CSRF_FAILED not in login.text
    assert f'name="next" value="{page}"' in login.text

    back = client.post(
        "/login",
        data={
            "email": account.email,
            "password": PASSWORD,
            "next": page,
            "csrf_token": page_csrf(client, "/login"),
        },
    )
    assert back.status_code == 303 and back.headers["location"] == page

    # htmx asks to be sent to sign in, naming the page it is on; the JSON API says why.
    end_sessions(live_server, client)
    htmx = client.post(
        f"{page}/notes",
        data={"note": "Call first"},
        headers={
            "HX-Request": "true",
            "HX-Current-URL": f"{live_server.url}{page}?view=mine",
            "X-CSRF-Token": token,
        },
    )
    assert htmx.status_code == 401
    assert parse_qs(urlsplit(htmx.headers["hx-redirect"]).query) == {
        "next": [f"{page}?view=mine"],
        "signed_out": ["session"],
    }
    api = client.post(
        "/api/v1/contacts", json={"phone": sa_mobile()}, headers={"X-CSRF-Token": token}
    )
    assert api.status_code == 401
    assert api.json()["error"]["code"] == "signed_out"
    assert "You were signed out" in api.json()["error"]["message"]


def test_a_change_sent_from_another_site_is_not_a_page_to_return_to(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    end_sessions(live_server, client)
    sent = client.post(
        "/settings/account/profile",
        data={"name": "X"},
        headers={"Referer": "https://evil.example/settings/account"},
    )
    assert sent.status_code == 303
    assert parse_qs(urlsplit(sent.headers["location"]).query) == {"signed_out": ["session"]}


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example",
        "https://evil.example/inbox",
        "//evil.example/inbox",
        "/\\evil.example",
        "/\t/evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
    ],
)
def test_sign_in_never_sends_anyone_to_another_site(
    client: httpx.Client, live_server: LiveServer, next_url: str
) -> None:
    account = sign_up(client, email=f"next-{uuid.uuid4().hex[:8]}@example.co.za")
    with httpx.Client(base_url=live_server.url, timeout=20) as fresh:
        form = fresh.get("/login", params={"next": next_url})
        assert form.status_code == 200
        signed_in = fresh.post(
            "/login",
            data={
                "email": account.email,
                "password": PASSWORD,
                "next": next_url,
                "csrf_token": page_csrf(fresh, "/login"),
            },
        )
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/inbox"
        # Already signed in, /login?next=… redirects at once: the same rule applies.
        again = fresh.get("/login", params={"next": next_url})
        assert again.headers["location"] == "/inbox"
    assert not re.search(r"evil", signed_in.headers["location"])
