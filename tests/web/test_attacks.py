"""Attacks that must fail: CSRF, brute force, privilege escalation, forged JWTs, leaks."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator

import httpx
import jwt
import psycopg
import pytest
import redis

from tests.conftest import LiveServer
from tests.support.accounts import PASSWORD, invite_and_join, log_in, sign_up, unique_email
from tests.support.forms import api_headers, page_csrf

BANKING = {
    "bank": "First National Bank",
    "account_holder": "Mthembu Plumbing",
    "account_number": "62845519933",
    "branch_code": "250655",
    "account_type": "cheque",
}


def test_post_without_csrf_token_is_refused_and_changes_nothing(client: httpx.Client) -> None:
    sign_up(client)
    for data in ({"name": "Changed"}, {"name": "Changed", "csrf_token": "forged"}):
        response = client.post("/settings/account/profile", data=data)
        assert response.status_code == 403
        assert "Reload the page" in response.text
    assert client.get("/api/v1/me").json()["name"] == "Thandi Owner"
    response = client.put(
        "/api/v1/business/profile",
        json={"trading_name": "Hijacked"},
        headers={"X-CSRF-Token": "nope"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert client.get("/api/v1/business/profile").json()["trading_name"] != "Hijacked"


def test_login_form_needs_its_csrf_token(client: httpx.Client) -> None:
    account = sign_up(client)
    with httpx.Client(base_url=str(client.base_url)) as other:
        response = other.post("/login", data={"email": account.email, "password": PASSWORD})
        assert response.status_code == 403
        assert "cc_session" not in response.cookies


@pytest.fixture
def clean_throttle(redis_client: redis.Redis) -> Iterator[None]:
    yield
    for key in redis_client.scan_iter("login-fail:*"):
        redis_client.delete(key)


def test_login_is_throttled_per_account(client: httpx.Client, clean_throttle: None) -> None:
    account = sign_up(client)
    with httpx.Client(base_url=str(client.base_url)) as attacker:
        for _ in range(5):
            assert log_in(attacker, account.email, "wrong password!").status_code == 401
        blocked = log_in(attacker, account.email, PASSWORD)
        assert blocked.status_code == 429
        assert "Too many failed sign-in attempts" in blocked.text
        assert "cc_session" not in blocked.cookies


def test_login_is_throttled_per_ip(
    client: httpx.Client, live_server: LiveServer, clean_throttle: None
) -> None:
    account = sign_up(client)
    limit = live_server.settings.login_max_failures_per_ip
    with httpx.Client(base_url=live_server.url) as attacker:
        for _ in range(limit):
            log_in(attacker, unique_email("nobody"), "guessing passwords")
        assert log_in(attacker, account.email, PASSWORD).status_code == 429


def test_agent_cannot_call_admin_endpoints(live_server: LiveServer) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner,
        httpx.Client(base_url=live_server.url) as agent,
    ):
        sign_up(owner)
        invite_and_join(owner, agent, role="agent")
        assert agent.get("/api/v1/me").json()["role"] == "agent"
        headers = api_headers(agent)
        attempts = [
            agent.put(
                "/api/v1/business/profile", json={"trading_name": "Agent Co"}, headers=headers
            ),
            agent.put(
                "/api/v1/business/banking-details",
                json={**BANKING, "password": PASSWORD},
                headers=headers,
            ),
            agent.get("/api/v1/business/banking-details"),
            agent.post(
                "/api/v1/invitations",
                json={"email": unique_email(), "role": "admin"},
                headers=headers,
            ),
            agent.post(
                "/settings/team/invite",
                data={
                    "email": unique_email(),
                    "role": "owner",
                    "csrf_token": headers["X-CSRF-Token"],
                },
            ),
            agent.get("/settings/business"),
            agent.get("/settings/team"),
        ]
        for response in attempts:
            assert response.status_code == 403, (response.request.url, response.text[:200])
        me = agent.get("/api/v1/me").json()
        members = owner.get("/api/v1/members").json()
        assert {m["email"]: m["role"] for m in members}[me["email"]] == "agent"
        owner_headers = api_headers(owner)
        response = agent.put(
            f"/api/v1/members/{me['id']}/role", json={"role": "owner"}, headers=headers
        )
        assert response.status_code == 403
        assert (
            owner.get("/api/v1/business/profile", headers=owner_headers).json()["trading_name"]
            != "Agent Co"
        )


def test_another_tenants_ids_lead_nowhere(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as a, httpx.Client(base_url=live_server.url) as b:
        sign_up(a)
        victim = sign_up(b)
        response = a.put(
            f"/api/v1/members/{victim.user_id}/role", json={"role": "agent"}, headers=api_headers(a)
        )
        assert response.status_code == 404
        assert b.get("/api/v1/me").json()["role"] == "owner"
        emails = {m["email"] for m in a.get("/api/v1/members").json()}
        assert victim.email not in emails


def test_banking_columns_hold_no_plaintext(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    response = client.put(
        "/api/v1/business/banking-details",
        json={**BANKING, "password": PASSWORD},
        headers=api_headers(client),
    )
    assert response.status_code == 204
    row = owner_conn.execute(
        "select * from business_profiles where tenant_id = %s", (account.tenant_id,)
    ).fetchone()
    assert row is not None
    raw = " ".join(str(value) for value in row)
    for secret in (BANKING["account_number"], BANKING["branch_code"], "First National"):
        assert secret not in raw
    sealed = owner_conn.execute(
        "select banking_details_sealed from business_profiles where tenant_id = %s",
        (account.tenant_id,),
    ).fetchone()[0]  # type: ignore[index]
    assert sealed.startswith("v1:k1:")
    masked = client.get("/api/v1/business/banking-details").json()
    assert masked["account_number_last4"] == "9933"
    assert "account_number" not in masked


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_jwts_are_rejected(client: httpx.Client, live_server: LiveServer) -> None:
    sign_up(client)
    genuine = client.cookies["cc_session"]
    claims = jwt.decode(genuine, live_server.settings.secret_key, algorithms=["HS256"])
    header, payload, signature = genuine.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    forgeries = {
        "altered signature": f"{header}.{payload}.{flipped}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "wrong key": jwt.encode(claims, "not-the-server-key-" * 3, algorithm="HS256"),
        "other user": jwt.encode({**claims, "sub": str(uuid.uuid4())}, "x" * 40, algorithm="HS256"),
    }
    for name, token in forgeries.items():
        with httpx.Client(base_url=live_server.url) as attacker:
            attacker.cookies.set("cc_session", token)
            assert attacker.get("/api/v1/me").status_code == 401, name


def test_api_token_auth_and_bad_tokens(client: httpx.Client) -> None:
    sign_up(client)
    response = client.post(
        "/settings/account/api-tokens",
        data={"name": "Zapier", "csrf_token": page_csrf(client, "/settings/account")},
    )
    assert response.status_code == 201
    token = (
        response.text.split('aria-label="New API token"')[0].rsplit('value="', 1)[1].split('"')[0]
    )
    assert token.startswith("cct_")
    with httpx.Client(base_url=str(client.base_url)) as api:
        assert (
            api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
        # Bearer calls need no CSRF token: no cookie rides along.
        response = api.put(
            "/api/v1/business/profile",
            json={"trading_name": "Via API", "vat_number": "4123456789"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        for bad in (token[:-3] + "xyz", "cct_nothex_abc", "garbage"):
            response = api.get("/api/v1/me", headers={"Authorization": f"Bearer {bad}"})
            assert response.status_code == 401
            assert response.json()["error"]["message"]


def test_security_headers(client: httpx.Client) -> None:
    response = client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers  # plain http here
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    sign_up(client)
    session_cookie = next(c for c in client.cookies.jar if c.name == "cc_session")
    assert session_cookie.has_nonstandard_attr("HttpOnly")
