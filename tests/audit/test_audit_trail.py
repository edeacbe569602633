"""The owners' audit trail: what is recorded (with IP and device, never a secret), who may
read it (owners of that business only, on the page and the API), its filters and pages, and
the 90-day purge the retention job calls."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
import psycopg

from clientcompass.audit import service as audit
from clientcompass.models import AuditAction
from tests.auth.helpers import create_token
from tests.conftest import LiveServer
from tests.support import factories
from tests.support.accounts import PASSWORD, invite_and_join, log_in, sign_up
from tests.support.factories import Services
from tests.support.forms import api_headers, post_form

PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
NEW_PASSWORD = "a much longer new password"


def events(client: httpx.Client, **query: str) -> list[dict[str, object]]:
    response = client.get("/api/v1/audit-events", params=query)
    assert response.status_code == 200, response.text[:500]
    return list(response.json()["events"])


def member_id(owner: httpx.Client, email: str) -> str:
    return str(next(m["id"] for m in owner.get("/api/v1/members").json() if m["email"] == email))


def test_access_changes_are_recorded_with_ip_and_device_and_no_secrets(
    client: httpx.Client, live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    owner = sign_up(client)
    with httpx.Client(
        base_url=live_server.url, timeout=20, headers={"user-agent": PHONE_UA}
    ) as phone:
        unknown = factories.unique_email("nobody")
        assert log_in(phone, unknown, "whatever it is").status_code == 401
        assert log_in(phone, owner.email, "not the password").status_code == 401
        assert log_in(phone, owner.email).status_code == 303
        changed = post_form(
            phone,
            "/settings/account/password",
            {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            csrf_page="/settings/account",
        )
        assert changed.status_code == 303
        token_id, secret = create_token(phone, "backup script")
        confirm = {**api_headers(phone), "X-Confirm-Password": NEW_PASSWORD}
        revoked = phone.delete(f"/api/v1/api-tokens/{token_id}", headers=confirm)
        assert revoked.status_code == 204
        # Revoking it again changes nothing, so records nothing.
        phone.delete(f"/api/v1/api-tokens/{token_id}", headers=confirm)

        with httpx.Client(base_url=live_server.url, timeout=20) as agent:
            agent_email = invite_and_join(phone, agent, role="agent")
            agent_id = member_id(phone, agent_email)
            role = phone.put(
                f"/api/v1/members/{agent_id}/role",
                json={"role": "admin"},
                headers=api_headers(phone),
            )
            assert role.status_code == 200, role.text
            removed = phone.delete(f"/api/v1/members/{agent_id}", headers=confirm)
            assert removed.status_code == 204
        banking = phone.put(
            "/api/v1/business/banking-details",
            json={
                "bank": "FNB",
                "account_holder": "Thandi Plumbing",
                "account_number": "62123456789",
                "branch_code": "250655",
                "account_type": "cheque",
                "password": NEW_PASSWORD,
            },
            headers=api_headers(phone),
        )
        assert banking.status_code == 204, banking.text

        listed = events(phone)
    actions = [e["action"] for e in listed]
    # Newest first.
    assert actions == [
        "banking_details_changed",
        "member_removed",
        "role_changed",
        "api_token_revoked",
        "api_token_created",
        "password_changed",
        "sign_in",
        "sign_in_failed",
    ], actions
    by_action = {e["action"]: e for e in listed}
    assert by_action["sign_in"]["device"] == "Chrome on Android"
    assert by_action["sign_in"]["ip"] == "127.0.0.1"
    assert by_action["sign_in"]["actor_id"] == str(owner.user_id)
    failed = by_action["sign_in_failed"]
    assert failed["target_id"] == str(owner.user_id) and failed["actor_id"] is None
    assert failed["device"] == "Chrome on Android"
    assert by_action["role_changed"]["details"] == {"from": "agent", "to": "admin"}
    assert by_action["member_removed"]["target_id"] == agent_id
    assert by_action["api_token_created"]["target_label"] == "backup script"
    everything = json.dumps(listed)
    for secret_text in (PASSWORD, NEW_PASSWORD, secret, "62123456789", "not the password"):
        assert secret_text not in everything
    # A guess at an address nobody has is in no business's trail.
    stray = owner_conn.execute(
        "select count(*) from audit_events where target_label = %s", (unknown,)
    ).fetchone()
    assert stray == (0,)


def test_only_the_owners_of_the_business_see_its_trail(
    client: httpx.Client, live_server: LiveServer
) -> None:
    victim = sign_up(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as signed_in_again:
        assert log_in(signed_in_again, victim.email).status_code == 303
    victim_events = events(client)
    assert victim_events, "the sign-in is recorded"
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as other_owner,
        httpx.Client(base_url=live_server.url, timeout=20) as agent,
        httpx.Client(base_url=live_server.url, timeout=20) as admin,
    ):
        sign_up(other_owner)
        theirs = events(other_owner, user_id=str(victim.user_id))
        assert theirs == []
        page = other_owner.get("/settings/audit", params={"user_id": str(victim.user_id)})
        assert page.status_code == 200
        for event in victim_events:
            assert str(event["id"]) not in page.text
        assert victim.email not in page.text
        assert str(victim.user_id) not in other_owner.get("/api/v1/audit-events").text

        invite_and_join(client, agent, role="agent")
        invite_and_join(client, admin, role="admin")
        for member in (agent, admin):
            assert member.get("/settings/audit").status_code == 403
            assert member.get("/api/v1/audit-events").status_code == 403
            assert "/settings/audit" not in member.get("/settings/account").text
    assert 'href="/settings/audit"' in client.get("/settings/account").text


def test_the_page_filters_by_action_person_and_dates_and_pages(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    owner = sign_up(client)
    settings = factories.settings_of(client)
    someone = uuid.uuid4()

    async def fill(services: Services) -> None:
        async with services.unit_of_work(owner.tenant_id) as uow:
            for n in range(audit.PAGE_SIZE + 5):
                await audit.record(
                    uow,
                    AuditAction.API_TOKEN_CREATED,
                    actor_id=owner.user_id,
                    target_label=f"token {n}",
                    ip="",
                    device="",
                )
            await audit.record(
                uow, AuditAction.SIGN_IN_FAILED, actor_id=None, target_id=someone, ip="10.0.0.9"
            )

    factories.run(settings, fill)
    owner_conn.execute(
        "update audit_events set at = at - interval '40 days' "
        "where tenant_id = %s and target_label = 'token 0'",
        (owner.tenant_id,),
    )
    first = client.get("/settings/audit")
    assert first.status_code == 200
    assert first.text.count("data-action=") == audit.PAGE_SIZE
    assert 'rel="next"' in first.text
    second = client.get("/settings/audit", params={"page": "2"})
    assert second.text.count("data-action=") == 5 + 1  # the rest, and the old one last
    assert "token 0" in second.text and 'rel="next"' not in second.text

    failed = client.get("/settings/audit", params={"action": "sign_in_failed"})
    assert failed.text.count("data-action=") == 1 and "10.0.0.9" in failed.text
    assert len(events(client, user_id=str(someone))) == 1, "the person acted on counts too"
    assert len(events(client, user_id=str(owner.user_id))) == audit.PAGE_SIZE
    old_day = owner_conn.execute(
        "select (at at time zone 'Africa/Johannesburg')::date from audit_events "
        "where tenant_id = %s and target_label = 'token 0'",
        (owner.tenant_id,),
    ).fetchone()
    assert old_day is not None
    day = old_day[0].isoformat()
    only_then = client.get("/settings/audit", params={"since": day, "until": day})
    assert only_then.text.count("data-action=") == 1 and "token 0" in only_then.text
    assert [e["target_label"] for e in events(client, since=day, until=day)] == ["token 0"]
    after = client.get(
        "/settings/audit", params={"since": (old_day[0] + timedelta(days=1)).isoformat()}
    )
    assert "token 0" not in after.text
    bad = client.get("/settings/audit", params={"since": "last tuesday", "action": "nope"})
    assert bad.status_code == 422
    assert "Enter a date like" in bad.text and "Choose an action" in bad.text
    assert client.get("/api/v1/audit-events", params={"action": "nope"}).status_code == 422


def test_purge_removes_only_events_older_than_90_days(
    client: httpx.Client, owner_conn: psycopg.Connection, app_conn: psycopg.Connection
) -> None:
    owner = sign_up(client)
    other = factories.business_with_owner(factories.settings_of(client))
    settings = factories.settings_of(client)

    async def fill(services: Services) -> None:
        for tenant, user in ((owner.tenant_id, owner.user_id), (other.tenant_id, other.user_id)):
            async with services.unit_of_work(tenant) as uow:
                for label in ("old", "new"):
                    await audit.record(
                        uow, AuditAction.PASSWORD_CHANGED, actor_id=user, target_label=label
                    )

    factories.run(settings, fill)
    owner_conn.execute(
        "update audit_events set at = now() - interval '91 days' "
        "where tenant_id = any(%s) and target_label = 'old'",
        ([owner.tenant_id, other.tenant_id],),
    )

    async def purge(services: Services) -> tuple[list[uuid.UUID], int]:
        async with services.unit_of_work() as uow:
            due = await audit.expired_tenants(uow)
        purged = 0
        for tenant in due:
            async with services.unit_of_work(tenant) as uow:
                purged += await audit.purge_older_than(uow, days=90)
        return due, purged

    due, purged = factories.run(settings, purge)
    assert {owner.tenant_id, other.tenant_id} <= set(due)
    assert purged >= 2
    left = owner_conn.execute(
        "select tenant_id, target_label from audit_events where tenant_id = any(%s) "
        "and target_label in ('old', 'new') order by tenant_id",
        ([owner.tenant_id, other.tenant_id],),
    ).fetchall()
    assert sorted(label for _, label in left) == ["new", "new"]
    again = factories.run(settings, purge)
    assert owner.tenant_id not in again[0], "idempotent: nothing left to purge"

    async def later(services: Services) -> int:
        async with services.unit_of_work(owner.tenant_id) as uow:
            return await audit.purge_older_than(uow, now=uow.now + timedelta(days=91))

    assert factories.run(settings, later) >= 1, "91 days on, the rest goes too"
    assert owner_conn.execute(
        "select count(*) from audit_events where tenant_id = %s", (owner.tenant_id,)
    ).fetchone() == (0,)
    # The app's role sees no audit event without a business set (the wall fails closed).
    assert app_conn.execute("select count(*) from audit_events").fetchone() == (0,)
