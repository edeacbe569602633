"""What the audit trail once missed: an API token issued with `clientcompass token create`, and
the sessions that start without the sign-in form (signing up, joining by invitation), which
are sign-ins all the same, with the IP and device of the browser."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import psycopg

from tests.conftest import LiveServer, settings_env
from tests.support.accounts import (
    invite_and_join_through_the_pages,
    sign_up,
    sign_up_through_the_form,
)

PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)


def trail(conn: psycopg.Connection, tenant_id: object, action: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "select actor_id::text, target_kind, target_id::text, target_label, ip, device, details "
        "from audit_events where tenant_id = %s and action = %s order by at",
        (tenant_id, action),
    ).fetchall()


def test_a_token_made_on_the_command_line_is_in_the_trail_without_its_secret(
    client: httpx.Client, live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    owner = sign_up(client)
    issued = subprocess.run(
        [
            sys.executable,
            "-m",
            "clientcompass",
            "token",
            "create",
            "--tenant",
            str(owner.tenant_id),
            "--email",
            owner.email,
            "--name",
            "deploy script",
            "--json",
        ],
        env=settings_env(live_server.settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert issued.returncode == 0, issued.stderr
    made = json.loads(issued.stdout)
    rows = trail(owner_conn, owner.tenant_id, "api_token_created")
    assert rows == [
        (
            str(owner.user_id),
            "api_token",
            made["token_id"],
            "deploy script",
            "",
            "Command line",
            {"via": "cli"},
        )
    ]
    everything = owner_conn.execute(
        "select count(*) from audit_events where tenant_id = %s and "
        "(details::text like %s or target_label like %s)",
        (owner.tenant_id, f"%{made['token'][-12:]}%", f"%{made['token'][-12:]}%"),
    ).fetchone()
    assert everything == (0,)
    # It is on the owners' trail as the page would show a token made in Settings.
    listed = client.get("/api/v1/audit-events", params={"action": "api_token_created"}).json()
    assert [e["target_id"] for e in listed["events"]] == [made["token_id"]]


def test_signing_up_is_a_sign_in_with_ip_and_device(
    live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    with httpx.Client(
        base_url=live_server.url, timeout=20, headers={"user-agent": PHONE_UA}
    ) as phone:
        owner = sign_up_through_the_form(phone)
    rows = trail(owner_conn, owner.tenant_id, "sign_in")
    assert rows == [(str(owner.user_id), "", None, "", "127.0.0.1", "Chrome on Android", {})]


def test_joining_by_invitation_is_a_sign_in_with_ip_and_device(
    client: httpx.Client, live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    owner = sign_up(client)
    with httpx.Client(
        base_url=live_server.url, timeout=20, headers={"user-agent": PHONE_UA}
    ) as phone:
        email = invite_and_join_through_the_pages(client, phone, role="agent")
        assert phone.get("/api/v1/me").json()["email"] == email
    joined = next(m["id"] for m in client.get("/api/v1/members").json() if m["email"] == email)
    rows = [row for row in trail(owner_conn, owner.tenant_id, "sign_in") if row[0] == joined]
    assert rows == [(joined, "", None, "", "127.0.0.1", "Chrome on Android", {})]
