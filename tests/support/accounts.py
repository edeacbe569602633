"""Businesses and their people, made through the public HTTP surface as a person would."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx

from tests.support.forms import post_form

PASSWORD = "correct horse battery"


@dataclass
class Account:
    email: str
    password: str
    business_name: str
    tenant_id: uuid.UUID
    user_id: uuid.UUID


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.co.za"


def sign_up(client: httpx.Client, *, business_name: str = "", email: str = "") -> Account:
    """Sign up a business through the form; leaves `client` signed in as its owner."""
    email = email or unique_email("owner")
    business_name = business_name or f"Biz {uuid.uuid4().hex[:6]}"
    response = post_form(
        client,
        "/signup",
        {
            "business_name": business_name,
            "owner_name": "Thandi Owner",
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
