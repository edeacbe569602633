"""Businesses and their people: made by the factories for set-up, or through the pages a
person uses where signing up or in is the behaviour under test."""

from __future__ import annotations

import re
import uuid

import httpx

from clientcompass.models import Role
from tests.support import factories
from tests.support.factories import OWNER_NAME, PASSWORD, Account, unique_email
from tests.support.forms import post_form

__all__ = [
    "PASSWORD",
    "Account",
    "invite_and_join",
    "invite_and_join_through_the_pages",
    "log_in",
    "sign_up",
    "sign_up_through_the_form",
    "unique_email",
]


def sign_up(client: httpx.Client, *, business_name: str = "", email: str = "") -> Account:
    """A new business, with `client` signed in as its owner (set-up: no sign-up form)."""
    account = factories.business_with_owner(
        factories.settings_of(client), business_name=business_name, email=email
    )
    factories.sign_in(client, account)
    return account


def sign_up_through_the_form(
    client: httpx.Client, *, business_name: str = "", email: str = ""
) -> Account:
    """Sign up a business through the form; leaves `client` signed in as its owner."""
    email = email or unique_email("owner")
    business_name = business_name or f"Biz {uuid.uuid4().hex[:6]}"
    response = post_form(
        client,
        "/signup",
        {
            "business_name": business_name,
            "owner_name": OWNER_NAME,
            "email": email,
            "password": PASSWORD,
        },
        csrf_page="/signup",
    )
    assert response.status_code == 303, response.text[:500]
    me = client.get("/api/v1/me", headers={"accept": "application/json"}).json()
    return Account(email, PASSWORD, business_name, uuid.UUID(me["tenant_id"]), uuid.UUID(me["id"]))


def log_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return post_form(client, "/login", {"email": email, "password": password}, csrf_page="/login")


def invite_and_join(owner: httpx.Client, joiner: httpx.Client, *, role: str = "agent") -> str:
    """Owner invites a teammate, signed in on `joiner` once they accept; returns their email
    (set-up: no team pages)."""
    email = unique_email(role)
    tenant_id, owner_id = factories.signed_in_as(owner)
    account = factories.teammate(
        factories.settings_of(owner),
        tenant_id,
        owner_id,
        email=email,
        role=Role(role),
        name=f"{role.title()} Person",
    )
    factories.sign_in(joiner, account)
    return email


def invite_and_join_through_the_pages(
    owner: httpx.Client, joiner: httpx.Client, *, role: str = "agent"
) -> str:
    """Owner invites a teammate, who accepts in their own browser; returns their email."""
    email = unique_email(role)
    response = post_form(
        owner, "/settings/team/invite", {"email": email, "role": role}, csrf_page="/settings/team"
    )
    assert response.status_code == 201, response.text[:500]
    link = re.search(r'value="(http[^"]+/invite\?token=[^"]+)"', response.text)
    assert link, "no invitation link on the page"
    path = link.group(1).split("127.0.0.1", 1)[1].split("/", 1)[1]
    token = path.split("token=", 1)[1]
    accept = post_form(
        joiner,
        "/invite",
        {"token": token, "name": f"{role.title()} Person", "password": PASSWORD},
        csrf_page=f"/invite?token={token}",
    )
    assert accept.status_code == 303, accept.text[:500]
    return email
