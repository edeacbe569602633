"""Teammates: one-time invitations, roles, and the owner rules."""

from __future__ import annotations

import httpx
import psycopg

from tests.conftest import LiveServer
from tests.support.accounts import (
    PASSWORD,
    invite_and_join_through_the_pages,
    log_in,
    sign_up,
    unique_email,
)
from tests.support.forms import api_headers, page_csrf


def _invite(owner: httpx.Client, role: str = "agent") -> dict[str, str]:
    response = owner.post(
        "/api/v1/invitations",
        json={"email": unique_email(), "role": role},
        headers=api_headers(owner),
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_invitation_link_works_once(live_server: LiveServer) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner,
        httpx.Client(base_url=live_server.url) as joiner,
    ):
        sign_up(owner)
        invitation = _invite(owner, "admin")
        path = invitation["url"].removeprefix(live_server.url)
        form = joiner.get(path)
        assert form.status_code == 200 and invitation["email"] in form.text
        token = path.split("token=")[1]
        data = {
            "token": token,
            "name": "Sipho Admin",
            "password": PASSWORD,
            "csrf_token": page_csrf(joiner, path),
        }
        assert joiner.post("/invite", data=data).status_code == 303
        me = joiner.get("/api/v1/me").json()
        assert me["role"] == "admin" and me["email"] == invitation["email"]
        with httpx.Client(base_url=live_server.url) as second:
            assert second.get(path).status_code == 410
            data["csrf_token"] = page_csrf(second, "/login")
            reused = second.post("/invite", data=data)
            assert reused.status_code == 410
            assert "invalid, used or expired" in reused.text


def test_expired_or_forged_invitation_is_refused(
    live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner,
        httpx.Client(base_url=live_server.url) as joiner,
    ):
        account = sign_up(owner)
        invitation = _invite(owner)
        owner_conn.execute(
            "update invitations set expires_at = now() - interval '1 minute' where id = %s",
            (invitation["id"],),
        )
        expired = joiner.get(invitation["url"].removeprefix(live_server.url))
        assert expired.status_code == 410 and "invalid, used or expired" in expired.text
        forged = f"/invite?token=cci_{account.tenant_id.hex}_forgedforgedforged"
        assert joiner.get(forged).status_code == 410
        assert joiner.get("/invite?token=garbage").status_code == 410


def test_invited_email_that_already_has_an_account_is_told_so(live_server: LiveServer) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner,
        httpx.Client(base_url=live_server.url) as other,
    ):
        existing = sign_up(other)
        sign_up(owner)
        response = owner.post(
            "/api/v1/invitations",
            json={"email": existing.email, "role": "agent"},
            headers=api_headers(owner),
        )
        assert response.status_code == 201
        path = response.json()["url"].removeprefix(live_server.url)
        token = path.split("token=")[1]
        with httpx.Client(base_url=live_server.url) as joiner:
            data = {
                "token": token,
                "name": "Dup",
                "password": PASSWORD,
                "csrf_token": page_csrf(joiner, path),
            }
            accepted = joiner.post("/invite", data=data)
            assert accepted.status_code == 422
            assert "already exists" in accepted.text


def test_only_owners_make_owners_and_the_last_owner_stays(live_server: LiveServer) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner,
        httpx.Client(base_url=live_server.url) as admin,
    ):
        account = sign_up(owner)
        invite_and_join_through_the_pages(owner, admin, role="admin")
        headers = api_headers(admin)
        response = admin.put(
            f"/api/v1/members/{account.user_id}/role", json={"role": "agent"}, headers=headers
        )
        assert response.status_code == 403
        response = owner.put(
            f"/api/v1/members/{account.user_id}/role",
            json={"role": "admin"},
            headers=api_headers(owner),
        )
        assert response.status_code == 409
        assert "at least one owner" in response.json()["error"]["message"]
        assert owner.get("/api/v1/me").json()["role"] == "owner"


def test_role_change_takes_effect_on_the_next_request(live_server: LiveServer) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner,
        httpx.Client(base_url=live_server.url) as admin,
    ):
        sign_up(owner)
        email = invite_and_join_through_the_pages(owner, admin, role="admin")
        assert admin.get("/settings/team").status_code == 200
        member = next(m for m in owner.get("/api/v1/members").json() if m["email"] == email)
        response = owner.put(
            f"/api/v1/members/{member['id']}/role",
            json={"role": "agent"},
            headers=api_headers(owner),
        )
        assert response.status_code == 200
        assert admin.get("/settings/team").status_code == 403


def test_invited_agent_can_sign_in_later(live_server: LiveServer) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner,
        httpx.Client(base_url=live_server.url) as agent,
    ):
        sign_up(owner)
        email = invite_and_join_through_the_pages(owner, agent)
    with httpx.Client(base_url=live_server.url) as later:
        assert log_in(later, email).status_code == 303
        assert later.get("/api/v1/me").json()["role"] == "agent"
