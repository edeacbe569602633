"""A password reset ends every session of the user and, when they leave the box ticked, their API
tokens too; "log out everywhere" offers the same."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.auth.helpers import create_token, me_status
from tests.conftest import LiveServer, MailSink
from tests.support.accounts import log_in, sign_up
from tests.support.forms import post_form

NEW_PASSWORD = "a brand new password 7"


def reset_link(
    client: httpx.Client, live_server: LiveServer, mail_sink: MailSink, email: str
) -> str:
    asked = post_form(client, "/forgot-password", {"email": email}, csrf_page="/forgot-password")
    assert asked.status_code == 200
    live_server.run_jobs()
    found = re.search(r"(/reset-password\?token=\S+)", mail_sink.wait_for(email))
    assert found
    return found.group(1)


@pytest.mark.parametrize("revoke", [True, False])
def test_a_password_reset_ends_sessions_and_revokes_tokens_when_asked(
    live_server: LiveServer, mail_sink: MailSink, revoke: bool
) -> None:
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as laptop,
        httpx.Client(base_url=live_server.url, timeout=20) as phone,
        httpx.Client(base_url=live_server.url, timeout=20) as someone,
    ):
        account = sign_up(laptop)
        assert log_in(phone, account.email).status_code == 303
        _, first = create_token(laptop)
        _, second = create_token(laptop)
        path = reset_link(someone, live_server, mail_sink, account.email)

        form = someone.get(path)
        assert "Also revoke my 2 API tokens" in form.text
        assert re.search(r'name="revoke_api_tokens" checked', form.text), "ticked by default"
        data = {
            "token": path.split("token=", 1)[1],
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
        }
        if revoke:
            data["revoke_api_tokens"] = "on"  # what a ticked box sends
        done = post_form(someone, "/reset-password", data, csrf_page=path)
        assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"

        assert laptop.get("/api/v1/me").status_code == 401
        assert phone.get("/api/v1/me").status_code == 401
        expected = 401 if revoke else 200
        assert [me_status(live_server.url, t) for t in (first, second)] == [expected] * 2
        assert log_in(someone, account.email, NEW_PASSWORD).status_code == 303


def test_a_dead_reset_link_offers_nothing_and_changes_nothing(
    client: httpx.Client, live_server: LiveServer
) -> None:
    account = sign_up(client)
    _, secret = create_token(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as someone:
        forged = f"/reset-password?token=ccr_{account.tenant_id.hex}_forgedforgedforged"
        assert "revoke my" not in someone.get(forged).text
        refused = post_form(
            someone,
            "/reset-password",
            {
                "token": forged.split("token=", 1)[1],
                "password": NEW_PASSWORD,
                "password_confirm": NEW_PASSWORD,
                "revoke_api_tokens": "on",
            },
            csrf_page=forged,
        )
        assert refused.status_code == 422 and "invalid or has expired" in refused.text
    assert me_status(live_server.url, secret) == 200
    assert client.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("revoke", [True, False])
def test_log_out_everywhere_offers_to_revoke_my_tokens(
    client: httpx.Client, live_server: LiveServer, revoke: bool
) -> None:
    sign_up(client)
    _, secret = create_token(client)
    page = client.get("/settings/account")
    assert "Also revoke my 1 API token<" in page.text
    data = {"revoke_api_tokens": "on"} if revoke else {}
    done = post_form(client, "/logout-everywhere", data, csrf_page="/settings/account")
    assert done.status_code == 303
    assert client.get("/api/v1/me").status_code == 401
    assert me_status(live_server.url, secret) == (401 if revoke else 200)
