"""Changing the sign-in email: step-up with the password, a one-time link to the new address,
a notice to the old one, and the login index swapped in one transaction when the link is
used. Until then the old address signs in."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import psycopg

from clientcompass.accounts import service as accounts
from tests.conftest import LiveServer, MailSink
from tests.support import factories
from tests.support.accounts import PASSWORD, log_in, sign_up
from tests.support.factories import Services, unique_email
from tests.support.forms import api_headers, page_csrf, post_form


def ask(client: httpx.Client, new_email: str, password: str = PASSWORD) -> httpx.Response:
    return post_form(
        client,
        "/settings/account/email",
        {"new_email": new_email, "password": password},
        csrf_page="/settings/account",
    )


def link_in(live_server: LiveServer, mail_sink: MailSink, to: str) -> str:
    live_server.run_jobs()
    found = re.search(r"/verify-email\?token=(\S+)", mail_sink.wait_for(to))
    assert found, "no link in the email"
    return found.group(1)


def confirm(client: httpx.Client, token: str) -> httpx.Response:
    return post_form(
        client, "/verify-email", {"token": token}, csrf_page=f"/verify-email?token={token}"
    )


def signs_in(live_server: LiveServer, email: str) -> bool:
    with httpx.Client(base_url=live_server.url, timeout=20) as someone:
        return log_in(someone, email).status_code == 303


def test_the_new_address_signs_in_only_once_its_link_is_used(
    client: httpx.Client, live_server: LiveServer, mail_sink: MailSink
) -> None:
    owner = sign_up(client)
    new_email = unique_email("moved")
    asked = ask(client, new_email.upper())
    assert asked.status_code == 303, asked.text[:500]
    token = link_in(live_server, mail_sink, new_email)
    notice = mail_sink.wait_for(owner.email)
    assert new_email in notice and "token" not in notice, "the old address is told, no link"
    page = client.get("/settings/account").text
    assert f"Waiting for you to confirm {new_email}" in page

    assert signs_in(live_server, owner.email), "nothing changes before the link is used"
    assert not signs_in(live_server, new_email)

    with httpx.Client(base_url=live_server.url, timeout=20) as elsewhere:
        shown = elsewhere.get("/verify-email", params={"token": token})
        assert shown.status_code == 200 and new_email in shown.text
        assert signs_in(live_server, owner.email), "opening the link changes nothing"
        done = confirm(elsewhere, token)
        assert done.status_code == 200 and "you now sign in with" in done.text
        assert confirm_refused(live_server, token), "a used link is refused"
    assert signs_in(live_server, new_email)
    assert not signs_in(live_server, owner.email)
    assert client.get("/api/v1/me").json()["email"] == new_email, "this session carries on"
    live_server.run_jobs()
    assert any("no longer works" in m["body"] for m in mail_sink.messages if owner.email in m["to"])
    trail = client.get("/api/v1/audit-events").json()["events"]
    actions = [e["action"] for e in trail if e["action"].startswith("email")]
    assert actions == ["email_changed", "email_change_requested"]
    changed = next(e for e in trail if e["action"] == "email_changed")
    assert changed["details"] == {"previous": owner.email}


def test_a_wrong_password_changes_nothing_and_sends_nothing(
    client: httpx.Client,
    live_server: LiveServer,
    mail_sink: MailSink,
    owner_conn: psycopg.Connection,
) -> None:
    owner = sign_up(client)
    new_email = unique_email("moved")
    refused = ask(client, new_email, "not my password")
    assert refused.status_code == 422
    assert "That is not your current password." in refused.text
    assert new_email in refused.text, "what was typed is kept (not the password)"
    live_server.run_jobs()
    assert not [m for m in mail_sink.messages if new_email in m["to"]]
    rows = owner_conn.execute(
        "select count(*) from email_changes where tenant_id = %s", (owner.tenant_id,)
    ).fetchone()
    assert rows == (0,)
    api = client.post(
        "/api/v1/me/email-change",
        json={"new_email": new_email, "password": "not my password"},
        headers=api_headers(client),
    )
    assert api.status_code == 422
    assert signs_in(live_server, owner.email)


def test_an_address_in_use_is_refused_with_a_clear_message(
    client: httpx.Client, live_server: LiveServer, mail_sink: MailSink
) -> None:
    owner = sign_up(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        taken = sign_up(other)
        refused = ask(client, taken.email)
        assert refused.status_code == 409
        assert "already used by another account" in refused.text
        same = ask(client, owner.email)
        assert same.status_code == 422 and "already your email address" in same.text

        # Free when asked, taken before the link is used: refused then, nothing swapped.
        later = unique_email("race")
        assert ask(client, later).status_code == 303
        token = link_in(live_server, mail_sink, later)
        with httpx.Client(base_url=live_server.url, timeout=20) as third:
            sign_up(third, email=later)
        raced = confirm(other, token)
        assert raced.status_code == 409 and "already used by another account" in raced.text
    assert signs_in(live_server, owner.email)


def test_a_forged_or_expired_request_is_refused(
    client: httpx.Client,
    live_server: LiveServer,
    mail_sink: MailSink,
    owner_conn: psycopg.Connection,
) -> None:
    owner = sign_up(client)
    new_email = unique_email("moved")
    forged = client.post(
        "/settings/account/email", data={"new_email": new_email, "password": PASSWORD}
    )
    assert forged.status_code == 403
    assert owner_conn.execute(
        "select count(*) from email_changes where tenant_id = %s", (owner.tenant_id,)
    ).fetchone() == (0,)

    api = client.post(
        "/api/v1/me/email-change",
        json={"new_email": new_email, "password": PASSWORD},
        headers=api_headers(client),
    )
    assert api.status_code == 202 and api.json()["pending_email"] == new_email
    token = link_in(live_server, mail_sink, new_email)
    # A link without its CSRF token is refused too.
    with httpx.Client(base_url=live_server.url, timeout=20) as anonymous:
        page_csrf(anonymous, f"/verify-email?token={token}")
        assert anonymous.post("/verify-email", data={"token": token}).status_code == 403
    owner_conn.execute(
        "update email_changes set expires_at = now() - interval '1 second' where tenant_id = %s",
        (owner.tenant_id,),
    )
    expired = client.get("/verify-email", params={"token": token})
    assert expired.status_code == 410 and "invalid, used or expired" in expired.text
    assert confirm_refused(live_server, token)
    # A made-up or tampered token is refused the same way.
    for junk in ("nonsense", token[:-3] + "abc"):
        assert client.get("/verify-email", params={"token": junk}).status_code == 410
    assert signs_in(live_server, owner.email)
    assert not signs_in(live_server, new_email)


def confirm_refused(live_server: LiveServer, token: str) -> bool:
    with httpx.Client(base_url=live_server.url, timeout=20) as someone:
        token_csrf = page_csrf(someone, "/login")
        sent = someone.post("/verify-email", data={"token": token, "csrf_token": token_csrf})
        return sent.status_code == 410


def test_spent_links_are_purged_after_30_days(
    client: httpx.Client, live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    owner = sign_up(client)
    assert ask(client, unique_email("first")).status_code == 303
    assert ask(client, unique_email("second")).status_code == 303  # the first one dies

    async def purge(services: Services, days_on: float) -> int:
        async with services.unit_of_work(owner.tenant_id) as uow:
            return await accounts.purge_email_changes(uow, now=uow.now + timedelta(days=days_on))

    settings = factories.settings_of(client)
    assert factories.run(settings, lambda s: purge(s, 0)) == 0
    assert factories.run(settings, lambda s: purge(s, 30.5)) == 1, "the spent one"
    assert factories.run(settings, lambda s: purge(s, 31.5)) == 1, "the live one, once expired"
    assert owner_conn.execute(
        "select count(*) from email_changes where tenant_id = %s", (owner.tenant_id,)
    ).fetchone() == (0,)
