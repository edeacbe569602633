"""Personal API tokens can be revoked: by their holder, and by an owner or admin for anyone in
the business. A revoked token is refused on its very next request. Nobody else can revoke one,
and another business's token ids are "not found"."""

from __future__ import annotations

import httpx

from tests.auth.helpers import bearer, create_token, me_status
from tests.conftest import LiveServer
from tests.support.accounts import PASSWORD, invite_and_join, sign_up
from tests.support.forms import post_form
from tests.support.step_up import CONFIRM, confirm_headers


def test_revoking_my_token_on_the_account_page_refuses_it_next_request(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    token_id, secret = create_token(client, "accounting sync")
    kept_id, kept = create_token(client, "backup script")
    assert me_status(live_server.url, secret) == 200
    page = client.get("/settings/account")
    assert "accounting sync" in page.text and f"/api-tokens/{token_id}/revoke" in page.text

    done = post_form(
        client,
        f"/settings/account/api-tokens/{token_id}/revoke",
        {"password": PASSWORD},
        csrf_page="/settings/account",
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/settings/account?saved=token-revoked"
    assert me_status(live_server.url, secret) == 401
    assert me_status(live_server.url, kept) == 200, "only that token is revoked"
    listed = [t["id"] for t in client.get("/api/v1/api-tokens").json()]
    assert listed == [kept_id]
    assert "accounting sync" not in client.get("/settings/account").text


def test_a_token_revoked_over_the_api_is_refused_on_its_next_request(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    token_id, secret = create_token(client)
    other_id, other = create_token(client)
    with bearer(live_server.url, secret) as api:
        assert api.get("/api/v1/me").status_code == 200
        # A token may revoke itself (a script retiring its own key).
        assert api.delete(f"/api/v1/api-tokens/{token_id}", headers=CONFIRM).status_code == 204
        refused = api.get("/api/v1/me")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "not_authenticated"
    with bearer(live_server.url, other) as api:
        assert [t["id"] for t in api.get("/api/v1/api-tokens").json()] == [other_id]
    # From a browser session too; revoking twice changes nothing.
    gone = client.delete(f"/api/v1/api-tokens/{other_id}", headers=confirm_headers(client))
    assert gone.status_code == 204
    again = client.delete(f"/api/v1/api-tokens/{other_id}", headers=confirm_headers(client))
    assert again.status_code == 204
    assert me_status(live_server.url, other) == 401


def test_the_api_schema_documents_revoking_tokens_and_removing_members(
    client: httpx.Client,
) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "delete" in paths["/api/v1/api-tokens/{token_id}"]
    assert "get" in paths["/api/v1/api-tokens"]
    assert "delete" in paths["/api/v1/members/{user_id}"]


def test_an_admin_revokes_a_members_token_over_the_api_and_an_owner_on_the_team_page(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as admin,
        httpx.Client(base_url=live_server.url, timeout=20) as agent,
    ):
        invite_and_join(client, admin, role="admin")
        invite_and_join(client, agent, role="agent")
        first_id, first = create_token(agent, "agent phone app")
        second_id, second = create_token(agent, "agent laptop script")

        everyone = admin.get("/api/v1/api-tokens", params={"everyone": "true"}).json()
        listed = {t["id"]: t for t in everyone}
        assert listed[first_id]["holder_name"] == "Agent Person"
        assert "token" not in listed[first_id] and "token_hash" not in listed[first_id]
        revoked = admin.delete(f"/api/v1/api-tokens/{first_id}", headers=confirm_headers(admin))
        assert revoked.status_code == 204
        assert me_status(live_server.url, first) == 401

        team = client.get("/settings/team")
        assert "agent laptop script" in team.text and "agent phone app" not in team.text
        done = post_form(
            client,
            f"/settings/team/api-tokens/{second_id}/revoke",
            {"password": PASSWORD},
            csrf_page="/settings/team",
        )
        assert done.status_code == 303
        assert me_status(live_server.url, second) == 401
        assert agent.get("/api/v1/api-tokens").json() == []


def test_a_member_cannot_revoke_a_teammates_token_nor_another_business_any(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    owner_token_id, owner_token = create_token(client, "owner integration")
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as agent,
        httpx.Client(base_url=live_server.url, timeout=20) as stranger,
    ):
        invite_and_join(client, agent, role="agent")
        headers = confirm_headers(agent)
        refused = agent.delete(f"/api/v1/api-tokens/{owner_token_id}", headers=headers)
        assert refused.status_code == 404
        assert refused.json()["error"]["message"] == "That API token does not exist."
        page = post_form(
            agent,
            f"/settings/account/api-tokens/{owner_token_id}/revoke",
            {"password": PASSWORD},
            csrf_page="/settings/account",
        )
        assert page.status_code == 404
        assert agent.get("/api/v1/api-tokens", params={"everyone": "true"}).status_code == 403
        assert agent.get("/settings/team").status_code == 403

        # An owner of another business, even: the id is not theirs to find.
        sign_up(stranger)
        foreign = stranger.delete(
            f"/api/v1/api-tokens/{owner_token_id}", headers=confirm_headers(stranger)
        )
        assert foreign.status_code == 404
        foreign_page = post_form(
            stranger,
            f"/settings/team/api-tokens/{owner_token_id}/revoke",
            {"password": PASSWORD},
            csrf_page="/settings/team",
        )
        assert foreign_page.status_code == 404
        ids = [t["id"] for t in stranger.get("/api/v1/api-tokens?everyone=true").json()]
        assert owner_token_id not in ids
    assert me_status(live_server.url, owner_token) == 200, "nothing was revoked"


def test_the_revoke_and_remove_forms_refuse_a_post_without_the_csrf_token(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    token_id, secret = create_token(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        agent_email = invite_and_join(client, agent, role="agent")
        agent_id = next(
            m["id"] for m in client.get("/api/v1/members").json() if m["email"] == agent_email
        )
        for path in (
            f"/settings/account/api-tokens/{token_id}/revoke",
            f"/settings/team/api-tokens/{token_id}/revoke",
            f"/settings/team/members/{agent_id}/remove",
            "/logout-everywhere",
        ):
            # The right password does not stand in for the CSRF token.
            forged = client.post(path, data={"revoke_api_tokens": "on", "password": PASSWORD})
            assert forged.status_code == 403, path
            assert "not sent from Client Compass" in forged.text, path
        assert me_status(live_server.url, secret) == 200
        assert agent.get("/api/v1/me").status_code == 200
        assert client.get("/api/v1/me").status_code == 200
