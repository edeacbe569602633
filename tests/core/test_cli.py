"""The `clientcompass` provisioning commands and `worker --once`, run as real processes.

Every other test runs its jobs in-process (tests/support/worker.py); this is the one that
runs the real worker command."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from clientcompass.config import Settings
from tests.conftest import LiveServer, MailSink, settings_env
from tests.support.accounts import PASSWORD, unique_email
from tests.support.forms import page_csrf


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clientcompass", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_provisioning_commands_print_json_that_works(
    live_server: LiveServer, mail_sink: MailSink
) -> None:
    settings = live_server.settings
    owner_email = unique_email("cli-owner")
    created = cli(
        settings,
        "tenant",
        "create",
        "--name",
        "Ṱhivhulawi Builders",
        "--owner-email",
        owner_email,
        "--owner-password",
        PASSWORD,
        "--json",
    )
    assert created.returncode == 0, created.stderr
    tenant = json.loads(created.stdout)
    assert tenant["owner_email"] == owner_email

    issued = cli(
        settings,
        "token",
        "create",
        "--tenant",
        tenant["tenant_id"],
        "--email",
        owner_email,
        "--json",
    )
    assert issued.returncode == 0, issued.stderr
    token = json.loads(issued.stdout)["token"]
    me = httpx.get(
        f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert me["business_name"] == "Ṱhivhulawi Builders" and me["role"] == "owner"

    agent_email = unique_email("cli-agent")
    invited = cli(
        settings,
        "user",
        "invite",
        "--tenant",
        tenant["tenant_id"],
        "--email",
        agent_email,
        "--role",
        "agent",
        "--invited-by",
        owner_email,
        "--json",
    )
    assert invited.returncode == 0, invited.stderr
    invitation = json.loads(invited.stdout)
    assert invitation["role"] == "agent" and invitation["url"].startswith(live_server.url)
    with httpx.Client(base_url=live_server.url) as joiner:
        path = invitation["url"].removeprefix(live_server.url)
        token_value = path.split("token=")[1]
        data = {
            "token": token_value,
            "name": "CLI Agent",
            "password": PASSWORD,
            "csrf_token": page_csrf(joiner, path),
        }
        assert joiner.post("/invite", data=data).status_code == 303
    worker = cli(settings, "worker", "--once")
    assert worker.returncode == 0, worker.stderr
    assert invitation["url"] in mail_sink.wait_for(agent_email)


def test_cli_errors_are_clear_and_change_nothing(live_server: LiveServer) -> None:
    settings = live_server.settings
    weak = cli(
        settings,
        "tenant",
        "create",
        "--name",
        "Weak",
        "--owner-email",
        unique_email(),
        "--owner-password",
        "short",
        "--json",
    )
    assert weak.returncode == 2
    assert json.loads(weak.stdout)["error"]["message"].startswith("Use a password of at least 10")
    wrong_tenant = cli(
        settings,
        "token",
        "create",
        "--tenant",
        "00000000-0000-0000-0000-000000000000",
        "--email",
        unique_email(),
    )
    assert wrong_tenant.returncode == 2
    assert "No user" in wrong_tenant.stderr
