"""API tokens made as a person makes them: on the account page, the secret read off the page."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.support.forms import post_form


def create_token(client: httpx.Client, name: str = "") -> tuple[str, str]:
    """A new API token of the member `client` is signed in as: (its id, its secret)."""
    name = name or f"script {uuid.uuid4().hex[:6]}"
    response = post_form(
        client, "/settings/account/api-tokens", {"name": name}, csrf_page="/settings/account"
    )
    assert response.status_code == 201, response.text[:500]
    found = re.search(r'id="new-token" readonly value="(cct_[^"]+)"', response.text)
    assert found, "the new token is not on the page"
    listed = client.get("/api/v1/api-tokens").json()
    token_id = next(t["id"] for t in listed if t["name"] == name)
    return token_id, found.group(1)


def bearer(live_url: str, secret: str) -> httpx.Client:
    """A client that calls the API with a token and no cookie."""
    return httpx.Client(
        base_url=live_url, headers={"Authorization": f"Bearer {secret}"}, timeout=20
    )


def me_status(live_url: str, secret: str) -> int:
    with bearer(live_url, secret) as api:
        return api.get("/api/v1/me").status_code
