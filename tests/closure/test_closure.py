"""Closing a business: owners only, with the password; access ends for everyone on the very
next request (sessions and API tokens); the owners' email carries a link that reopens it, and
only that business, within the grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from clientcompass.lifecycle import closure
from tests.closure.helpers import api_token, reopen_token
from tests.conftest import LiveServer, MailSink
from tests.support import factories
from tests.support.accounts import PASSWORD, invite_and_join, log_in, sign_up
from tests.support.forms import api_headers, page_csrf, post_form

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def close_page(client: httpx.Client, password: str = PASSWORD) -> httpx.Response:
    return post_form(client, "/settings/close", {"password": password}, csrf_page="/settings/close")


def closed_at(owner_conn: psycopg.Connection, tenant_id: object) -> object:
    owner_conn.execute("select set_config('app.tenant_id', %s, false)", (str(tenant_id),))
    try:
        row = owner_conn.execute(
            "select closed_at from tenants where id = %s", (tenant_id,)
        ).fetchone()
    finally:
        owner_conn.execute("select set_config('app.tenant_id', '', false)")
    assert row is not None
    return row[0]


def test_closing_ends_access_for_everyone_and_the_link_reopens_it(
    client: httpx.Client,
    live_server: LiveServer,
    mail_sink: MailSink,
    owner_conn: psycopg.Connection,
) -> None:
    owner = sign_up(client)
    owner_token = api_token(client, owner.tenant_id, owner.user_id)
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        invite_and_join(client, agent, role="agent")
        assert agent.get("/api/v1/me").status_code == 200
        bearer = {"authorization": f"Bearer {owner_token}"}
        assert client.get("/api/v1/me", headers=bearer).status_code == 200
        owner_cookie = client.cookies.get("cc_session")

        page = client.get("/settings/business")
        assert "Close this business" in page.text
        done = close_page(client)
        assert done.status_code == 200, done.text[:500]
        assert "is closed" in done.text and "signed out" in done.text
        assert closed_at(owner_conn, owner.tenant_id) is not None

        # The very next request of each is refused.
        assert agent.get("/api/v1/me").status_code == 401
        assert httpx.get(f"{live_server.url}/api/v1/me", headers=bearer).status_code == 401
        again = httpx.get(
            f"{live_server.url}/api/v1/me", cookies={"cc_session": owner_cookie or ""}
        )
        assert again.status_code == 401
        assert log_in(httpx.Client(base_url=live_server.url), owner.email).status_code != 303

        token = reopen_token(live_server, mail_sink, owner.email)
        body = mail_sink.wait_for(owner.email)
        assert f"{closure.GRACE_DAYS} days" in body
        with httpx.Client(base_url=live_server.url, timeout=20) as anyone:
            shown = anyone.get("/reopen", params={"token": token})
            assert shown.status_code == 200 and owner.business_name in shown.text
            reopened = post_form(
                anyone, "/reopen", {"token": token}, csrf_page=f"/reopen?token={token}"
            )
            assert reopened.status_code == 200 and "open again" in reopened.text
            used = post_form(anyone, "/reopen", {"token": token}, csrf_page="/login")
            assert used.status_code == 410, "a spent link is refused"
        assert closed_at(owner_conn, owner.tenant_id) is None

        # Access is back: the token works, people sign in again.
        assert httpx.get(f"{live_server.url}/api/v1/me", headers=bearer).status_code == 200
        with httpx.Client(base_url=live_server.url, timeout=20) as fresh:
            assert log_in(fresh, owner.email).status_code == 303
            trail = fresh.get("/api/v1/audit-events").json()["events"]
        actions = [e["action"] for e in trail]
        assert "account_closed" in actions and "account_reopened" in actions


def test_closing_and_reopening_through_the_api(
    client: httpx.Client, live_server: LiveServer, mail_sink: MailSink
) -> None:
    owner = sign_up(client)
    token = api_token(client, owner.tenant_id, owner.user_id)
    bearer = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=live_server.url, timeout=20, headers=bearer) as api:
        wrong = api.post("/api/v1/business/close", json={"password": "not it"})
        assert wrong.status_code == 422
        assert api.get("/api/v1/me").status_code == 200, "a wrong password changes nothing"
        closed = api.post("/api/v1/business/close", json={"password": PASSWORD})
        assert closed.status_code == 202, closed.text
        assert closed.json()["reopen_until"]
        assert api.get("/api/v1/me").status_code == 401
        link = reopen_token(live_server, mail_sink, owner.email)
        reopened = httpx.post(f"{live_server.url}/api/v1/business/reopen", json={"token": link})
        assert reopened.status_code == 200, reopened.text
        assert api.get("/api/v1/me").status_code == 200


def test_admins_and_agents_cannot_close(client: httpx.Client, live_server: LiveServer) -> None:
    sign_up(client)
    for role in ("admin", "agent"):
        with httpx.Client(base_url=live_server.url, timeout=20) as member:
            invite_and_join(client, member, role=role)
            page = close_page(member)
            assert page.status_code == 403, (role, page.status_code)
            api = member.post(
                "/api/v1/business/close", json={"password": PASSWORD}, headers=api_headers(member)
            )
            assert api.status_code == 403
            assert member.get("/api/v1/me").status_code == 200


def test_a_post_without_csrf_is_refused(client: httpx.Client) -> None:
    sign_up(client)
    refused = client.post("/settings/close", data={"password": PASSWORD})
    assert refused.status_code == 403
    api = client.post("/api/v1/business/close", json={"password": PASSWORD})
    assert api.status_code == 403
    assert client.get("/api/v1/me").status_code == 200


def test_a_forged_or_other_link_reopens_nothing(
    client: httpx.Client, live_server: LiveServer, mail_sink: MailSink
) -> None:
    victim = sign_up(client)
    assert close_page(client).status_code == 200
    real = reopen_token(live_server, mail_sink, victim.email)
    settings = factories.settings_of(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as attacker:
        sign_up(attacker)
        forged = closure.reopen_token(
            "not the secret", victim.tenant_id, closure_time(settings.secret_key, real)
        )
        tampered = real[:-2] + ("AA" if real[-2:] != "AA" else "BB")
        for token in (forged, tampered, "", "x" * 60):
            page = attacker.get("/reopen", params={"token": token})
            assert page.status_code == 410, token
            api = attacker.post("/api/v1/business/reopen", json={"token": token or "x"})
            assert api.status_code == 410
    # A link of an earlier closure is dead once the business closed again.
    stale = closure.reopen_token(
        settings.secret_key, victim.tenant_id, closure_time(settings.secret_key, real, -1)
    )
    assert (
        httpx.post(f"{live_server.url}/api/v1/business/reopen", json={"token": stale}).status_code
        == 410
    )
    assert page_csrf(httpx.Client(base_url=live_server.url), "/login")


def closure_time(secret: str, token: str, shift_micros: int = 0) -> datetime:
    found = closure.read_reopen_token(secret, token)
    assert found is not None
    return EPOCH + timedelta(microseconds=found[1] + shift_micros)
