"""Sign-up, sign-in and passwords, including the emailed reset link."""

from __future__ import annotations

import re

import httpx

from tests.conftest import LiveServer, MailSink
from tests.support.accounts import PASSWORD, log_in, sign_up_through_the_form, unique_email
from tests.support.forms import page_csrf, post_form


def test_sign_up_rejects_bad_input_and_creates_nothing(client: httpx.Client) -> None:
    email = unique_email()
    response = post_form(
        client,
        "/signup",
        {"business_name": "B", "owner_name": "", "email": "not-an-email", "password": "short"},
        csrf_page="/signup",
    )
    assert response.status_code == 422
    for field in ("business_name", "owner_name", "email", "password"):
        assert f'id="err-{field}"' in response.text, field
    assert "cc_session" not in response.cookies
    response = log_in(client, email)
    assert response.status_code == 401


def test_duplicate_email_is_refused_with_a_clear_message(live_server: LiveServer) -> None:
    with (
        httpx.Client(base_url=live_server.url) as first,
        httpx.Client(base_url=live_server.url) as second,
    ):
        account = sign_up_through_the_form(first)
        response = post_form(
            second,
            "/signup",
            {
                "business_name": "Other",
                "owner_name": "X",
                "email": account.email.upper(),
                "password": PASSWORD,
            },
            csrf_page="/signup",
        )
        assert response.status_code == 409
        assert "already exists" in response.text


def test_wrong_password_says_so_without_revealing_which_part(client: httpx.Client) -> None:
    account = sign_up_through_the_form(client)
    with httpx.Client(base_url=str(client.base_url)) as other:
        wrong_password = log_in(other, account.email, "nope nope nope")
        unknown_email = log_in(other, unique_email(), PASSWORD)
    assert wrong_password.status_code == unknown_email.status_code == 401
    message = "That email and password do not match an account."
    assert message in wrong_password.text and message in unknown_email.text


def test_change_password(client: httpx.Client) -> None:
    account = sign_up_through_the_form(client)
    elsewhere = httpx.Client(base_url=str(client.base_url))
    assert log_in(elsewhere, account.email).status_code == 303
    bad = post_form(
        client,
        "/settings/account/password",
        {"current_password": "wrong wrong", "new_password": "a brand new password"},
        csrf_page="/settings/account",
    )
    assert bad.status_code == 422 and "not your current password" in bad.text
    ok = post_form(
        client,
        "/settings/account/password",
        {"current_password": PASSWORD, "new_password": "a brand new password"},
        csrf_page="/settings/account",
    )
    assert ok.status_code == 303
    assert client.get("/api/v1/me").status_code == 200, "the session that changed it stays"
    assert elsewhere.get("/api/v1/me").status_code == 401, "other sessions end"
    with httpx.Client(base_url=str(client.base_url)) as other:
        assert log_in(other, account.email, PASSWORD).status_code == 401
        assert log_in(other, account.email, "a brand new password").status_code == 303
    elsewhere.close()


def test_password_reset_by_email(live_server: LiveServer, mail_sink: MailSink) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner,
        httpx.Client(base_url=live_server.url) as anon,
    ):
        account = sign_up_through_the_form(owner)
        asked = post_form(
            anon, "/forgot-password", {"email": account.email}, csrf_page="/forgot-password"
        )
        assert asked.status_code == 200 and "reset link is on its way" in asked.text
        nobody = post_form(
            anon, "/forgot-password", {"email": unique_email()}, csrf_page="/forgot-password"
        )
        assert nobody.text.count("reset link is on its way") == 1, "same answer for unknown emails"
        live_server.run_jobs()
        body = mail_sink.wait_for(account.email)
        link = re.search(r"(/reset-password\?token=\S+)", body)
        assert link, body
        path = link.group(1)
        token = path.split("token=")[1]
        mismatch = post_form(
            anon,
            "/reset-password",
            {"token": token, "password": "new password 123", "password_confirm": "other"},
            csrf_page=path,
        )
        assert mismatch.status_code == 422 and "do not match" in mismatch.text
        done = post_form(
            anon,
            "/reset-password",
            {
                "token": token,
                "password": "new password 123",
                "password_confirm": "new password 123",
            },
            csrf_page=path,
        )
        assert done.status_code == 303
        assert owner.get("/api/v1/me").status_code == 401, "a reset ends existing sessions"
        again = post_form(
            anon,
            "/reset-password",
            {
                "token": token,
                "password": "another password",
                "password_confirm": "another password",
            },
            csrf_page=path,
        )
        assert again.status_code == 422 and "invalid or has expired" in again.text
        assert log_in(anon, account.email, "new password 123").status_code == 303


def test_next_parameter_cannot_redirect_off_site(client: httpx.Client) -> None:
    account = sign_up_through_the_form(client)
    post_form(client, "/logout", {}, csrf_page="/settings/account")
    token = page_csrf(client, "/login")
    response = client.post(
        "/login",
        data={
            "email": account.email,
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": token,
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/inbox"


def test_sign_in_returns_to_the_page_asked_for(client: httpx.Client) -> None:
    account = sign_up_through_the_form(client)
    post_form(client, "/logout", {}, csrf_page="/settings/account")
    bounced = client.get("/settings/team?tab=invites")
    assert bounced.status_code == 303
    assert bounced.headers["location"] == "/login?next=%2Fsettings%2Fteam%3Ftab%3Dinvites"
    token = page_csrf(client, bounced.headers["location"])
    response = client.post(
        "/login",
        data={
            "email": account.email,
            "password": PASSWORD,
            "next": "/settings/team?tab=invites",
            "csrf_token": token,
        },
    )
    assert response.headers["location"] == "/settings/team?tab=invites"
