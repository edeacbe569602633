"""The invitation says truthfully whether it was emailed, and the join page names the business
and who invited the person."""

from __future__ import annotations

import re

import httpx

from tests.conftest import StartServer
from tests.support.accounts import sign_up, unique_email
from tests.support.forms import post_form


def invite(client: httpx.Client, email: str) -> httpx.Response:
    response = post_form(
        client,
        "/settings/team/invite",
        {"email": email, "role": "agent"},
        csrf_page="/settings/team",
    )
    assert response.status_code == 201, response.text[:300]
    return response


def test_the_join_page_names_the_business_and_the_inviter(client: httpx.Client) -> None:
    sign_up(client, business_name="Mokoena Plumbing")
    inviter = client.get("/api/v1/me").json()["name"]
    page = invite(client, unique_email("agent")).text
    assert "Invitation created and emailed" in page
    link = re.search(r'value="(http[^"]+/invite\?token=[^"]+)"', page)
    assert link is not None
    with httpx.Client(timeout=20) as invitee:
        join = invitee.get(link.group(1)).text
    assert "Join Mokoena Plumbing" in join
    assert f"{inviter} invited you as an agent" in join


def test_without_email_set_up_the_page_says_nothing_was_sent(
    server_variant: StartServer,
) -> None:
    server = server_variant(smtp_host="")
    with httpx.Client(base_url=server.url, timeout=20) as client:
        sign_up(client)
        page = invite(client, unique_email("agent")).text
    assert "No email was sent" in page and "Invitation created and emailed" not in page
