"""Removing a member: owners and admins may, an admin never removes an owner, nobody removes the
last owner, and the removed member's live session and API token are refused on the very next
request."""

from __future__ import annotations

import httpx
import psycopg

from tests.auth.helpers import create_token, me_status
from tests.conftest import LiveServer
from tests.support.accounts import PASSWORD, invite_and_join, log_in, sign_up
from tests.support.forms import api_headers, post_form
from tests.support.step_up import confirm_headers


def member_id(owner: httpx.Client, email: str) -> str:
    return str(next(m["id"] for m in owner.get("/api/v1/members").json() if m["email"] == email))


def test_a_removed_members_session_and_token_are_refused_at_once(
    client: httpx.Client, live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    owner = sign_up(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        email = invite_and_join(client, agent, role="agent")
        _, secret = create_token(agent)
        assert agent.get("/api/v1/me").status_code == 200
        assert me_status(live_server.url, secret) == 200
        agent_id = member_id(client, email)

        removed = client.delete(f"/api/v1/members/{agent_id}", headers=confirm_headers(client))
        assert removed.status_code == 204
        assert agent.get("/api/v1/me").status_code == 401, "the live session must end"
        assert agent.get("/inbox").status_code == 303
        assert me_status(live_server.url, secret) == 401, "the token must stop working"
        assert email not in [m["email"] for m in client.get("/api/v1/members").json()]
    with httpx.Client(base_url=live_server.url, timeout=20) as later:
        assert log_in(later, email, PASSWORD).status_code == 401
    row = owner_conn.execute(
        "select is_active, removed_by, removed_at is not null from users where id = %s",
        (agent_id,),
    ).fetchone()
    assert row == (False, owner.user_id, True), "who removed them, and when, is kept"


def test_an_admin_removes_an_agent_on_the_team_page_but_never_an_owner(
    client: httpx.Client, live_server: LiveServer
) -> None:
    owner = sign_up(client)
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as admin,
        httpx.Client(base_url=live_server.url, timeout=20) as agent,
    ):
        invite_and_join(client, admin, role="admin")
        agent_email = invite_and_join(client, agent, role="agent")
        _, secret = create_token(agent)
        agent_id = member_id(client, agent_email)

        team = admin.get("/settings/team").text
        assert f"/settings/team/members/{agent_id}/remove" in team
        assert f"/settings/team/members/{owner.user_id}/remove" not in team, "not offered"
        done = post_form(
            admin,
            f"/settings/team/members/{agent_id}/remove",
            {"password": PASSWORD},
            csrf_page="/settings/team",
        )
        assert done.status_code == 303 and done.headers["location"] == "/settings/team?done=removed"
        assert agent.get("/api/v1/me").status_code == 401
        assert me_status(live_server.url, secret) == 401

        refused = post_form(
            admin,
            f"/settings/team/members/{owner.user_id}/remove",
            {"password": PASSWORD},
            csrf_page="/settings/team",
        )
        assert refused.status_code == 403
        assert "Only an owner can remove an owner." in refused.text
        api = admin.delete(f"/api/v1/members/{owner.user_id}", headers=confirm_headers(admin))
        assert api.status_code == 403
        assert client.get("/api/v1/me").status_code == 200, "the owner is still in"

        # An agent removes nobody.
        with httpx.Client(base_url=live_server.url, timeout=20) as second_agent:
            invite_and_join(client, second_agent, role="agent")
            tried = second_agent.delete(
                f"/api/v1/members/{owner.user_id}", headers=confirm_headers(second_agent)
            )
            assert tried.status_code == 403


def test_the_last_owner_can_be_neither_removed_nor_demoted(
    client: httpx.Client, live_server: LiveServer
) -> None:
    owner = sign_up(client)
    headers = api_headers(client)
    itself = client.delete(f"/api/v1/members/{owner.user_id}", headers=confirm_headers(client))
    assert itself.status_code == 409
    assert "can't remove yourself" in itself.json()["error"]["message"]
    demoted = client.put(
        f"/api/v1/members/{owner.user_id}/role", json={"role": "admin"}, headers=headers
    )
    assert demoted.status_code == 409
    assert "at least one owner" in demoted.json()["error"]["message"]
    page = post_form(
        client,
        f"/settings/team/members/{owner.user_id}/role",
        {"role": "agent"},
        csrf_page="/settings/team",
    )
    assert page.status_code == 409
    assert "A business needs at least one owner." in page.text
    assert client.get("/api/v1/me").json()["role"] == "owner"


def test_another_business_cannot_remove_my_member(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as agent,
        httpx.Client(base_url=live_server.url, timeout=20) as stranger,
    ):
        email = invite_and_join(client, agent, role="agent")
        agent_id = member_id(client, email)
        sign_up(stranger)
        refused = stranger.delete(f"/api/v1/members/{agent_id}", headers=confirm_headers(stranger))
        assert refused.status_code == 404
        page = post_form(
            stranger,
            f"/settings/team/members/{agent_id}/remove",
            {"password": PASSWORD},
            csrf_page="/settings/team",
        )
        assert page.status_code == 404
        assert agent.get("/api/v1/me").status_code == 200


def test_a_removed_member_can_be_invited_back_and_their_old_token_stays_dead(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        email = invite_and_join(client, agent, role="agent")
        _, secret = create_token(agent)
        first_id = member_id(client, email)
        assert (
            client.delete(
                f"/api/v1/members/{first_id}", headers=confirm_headers(client)
            ).status_code
            == 204
        )
    again = client.post(
        "/api/v1/invitations", json={"email": email, "role": "admin"}, headers=api_headers(client)
    )
    assert again.status_code == 201, again.text
    path = again.json()["url"].removeprefix(live_server.url)
    with httpx.Client(base_url=live_server.url, timeout=20) as back:
        accepted = post_form(
            back,
            "/invite",
            {"token": path.split("token=")[1], "name": "Back Again", "password": PASSWORD},
            csrf_page=path,
        )
        assert accepted.status_code == 303, accepted.text[:500]
        me = back.get("/api/v1/me").json()
        assert (me["id"], me["role"], me["name"]) == (first_id, "admin", "Back Again")
    assert me_status(live_server.url, secret) == 401
