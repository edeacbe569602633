from __future__ import annotations

import httpx

from tests.support.accounts import sign_up_through_the_form


def test_sign_up_lands_signed_in(client: httpx.Client) -> None:
    account = sign_up_through_the_form(client)
    me = client.get("/api/v1/me").json()
    assert me["email"] == account.email
    assert me["role"] == "owner"
    assert me["business_name"] == account.business_name
