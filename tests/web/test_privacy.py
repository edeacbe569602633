"""The privacy policy at /privacy: filled from settings, linked where people look for it,
accepted at sign-up, and a notice, once, for whoever has not seen the current version."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
import psycopg

from clientcompass.policy.policy import CURRENT_VERSION
from tests.conftest import StartServer
from tests.support import factories
from tests.support.accounts import (
    invite_and_join_through_the_pages,
    sign_up,
    sign_up_through_the_form,
)
from tests.support.forms import page_csrf

LOADER = 'hx-get="/privacy/notice"'


def _acceptance(conn: psycopg.Connection, user_id: uuid.UUID) -> tuple[str | None, datetime | None]:
    row = conn.execute(
        "select policy_version, policy_accepted_at from users where id = %s", (user_id,)
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_the_policy_names_the_operator_from_settings(server_variant: StartServer) -> None:
    server = server_variant(
        operator_name="Test Operator <Pty> Ltd",
        operator_phone="+27 21 555 0100",
        information_officer="Jane Officer",
    )
    with httpx.Client(base_url=server.url, timeout=20) as http:
        page = http.get("/privacy")
    assert page.status_code == 200
    html = page.text
    assert "Test Operator &lt;Pty&gt; Ltd" in html  # from settings, and escaped
    assert "Test Operator <Pty>" not in html
    assert "Client Compass Digital Solutions" not in html  # nothing hard-coded
    assert "Information Officer (POPIA): Jane Officer" in html
    assert "+27 21 555 0100" in html
    assert "11 Nepeta Street" in html  # the unchanged settings keep their defaults
    assert not re.search(r"\{\w+\}", html), "a placeholder was left unreplaced"
    for promise in (
        "Protection of Personal Information Act",
        "retained for 90 days",
        "minimum of 5 years",
        "up to 7 years after account closure",
        "<h2>Retention of Your Personal Data</h2>",
        f'data-version="{CURRENT_VERSION}"',
    ):
        assert promise in html, promise
    assert '<a href="/deletion.html">/deletion.html</a>' in html


def test_the_policy_is_public_and_linked(client: httpx.Client) -> None:
    assert "Client Compass Digital Solutions (Pty) Ltd" in client.get("/privacy").text
    for path in ("/", "/login", "/signup"):
        html = client.get(path).text
        assert 'href="/privacy"' in html and 'href="/deletion.html"' in html, path
    assert "By signing up you accept the" in client.get("/signup").text
    sign_up(client)
    for path in ("/inbox", "/settings/account"):
        html = client.get(path).text
        assert 'href="/privacy"' in html and 'href="/deletion.html"' in html, path


def test_sign_up_records_the_version_and_when(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    before = datetime.now(UTC)
    through_form = sign_up_through_the_form(client)
    client.cookies.clear()
    through_service = sign_up(client)  # the factories, the CLI and the sandbox use sign_up too
    for account in (through_form, through_service):
        version, accepted_at = _acceptance(owner_conn, account.user_id)
        assert version == CURRENT_VERSION
        assert accepted_at is not None and accepted_at >= before.replace(microsecond=0)


def test_joining_a_team_records_the_version_too(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    with httpx.Client(base_url=str(client.base_url), timeout=20) as joiner:
        invite_and_join_through_the_pages(client, joiner)
        (user_id,) = owner_conn.execute(
            "select id from users where tenant_id = (select tenant_id from users where id = %s) "
            "and role = 'agent'",
            (factories.signed_in_as(client)[1],),
        ).fetchone()  # type: ignore[misc]
    version, accepted_at = _acceptance(owner_conn, user_id)
    assert version == CURRENT_VERSION and accepted_at is not None


def test_someone_on_an_older_version_sees_the_notice_until_read(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    owner_conn.execute(
        "update users set policy_version = '2020-01-01' where id = %s", (account.user_id,)
    )
    assert LOADER in client.get("/inbox").text
    notice = client.get("/privacy/notice", headers={"hx-current-url": "http://x/contacts?q=1"})
    assert "I've read it" in notice.text and 'value="/contacts?q=1"' in notice.text
    assert "cc_policy" not in notice.headers.get("set-cookie", "")

    refused = client.post("/privacy/read", data={"next": "/contacts"})
    assert refused.status_code == 403
    assert _acceptance(owner_conn, account.user_id)[0] == "2020-01-01"

    token = page_csrf(client, "/settings/account")
    read = client.post("/privacy/read", data={"csrf_token": token, "next": "/contacts?q=1"})
    assert read.status_code == 303 and read.headers["location"] == "/contacts?q=1"
    version, accepted_at = _acceptance(owner_conn, account.user_id)
    assert version == CURRENT_VERSION and accepted_at is not None
    # Once read, pages no longer ask; and the notice itself answers empty.
    assert LOADER not in client.get("/inbox").text
    client.cookies.delete("cc_policy")
    assert LOADER in client.get("/inbox").text
    answered = client.get("/privacy/notice")
    assert answered.status_code == 200 and answered.text == ""
    assert LOADER not in client.get("/inbox").text


def test_read_through_htmx_answers_empty(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    owner_conn.execute("update users set policy_version = null where id = %s", (account.user_id,))
    assert "I've read it" in client.get("/privacy/notice").text
    token = page_csrf(client, "/settings/account")
    read = client.post("/privacy/read", headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert read.status_code == 200 and read.text == ""
    assert _acceptance(owner_conn, account.user_id)[0] == CURRENT_VERSION


def test_the_notice_needs_a_session(client: httpx.Client) -> None:
    assert client.get("/privacy/notice").status_code == 303  # to sign in
