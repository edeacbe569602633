"""The `clientcompass` provisioning commands, `worker --once` and a misconfigured `worker`,
run as real processes.

Most tests run their jobs in-process (tests/support/worker.py); the crash tests and
tests/lifecycle/ run real worker processes to kill or stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from clientcompass.config import Settings
from clientcompass.supervisor import GIVE_UP_EXIT_CODE
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


def test_a_worker_without_its_servers_exits_with_the_code_serve_gives_up_on(
    tmp_path: Path,
) -> None:
    """A configuration error exits 2, which `serve` and the systemd units do not restart."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DATABASE_APP_URL", "REDIS_URL")
        and not key.startswith("TEST_")
    }
    worker = subprocess.run(
        [sys.executable, "-m", "clientcompass", "worker"],
        env=env,
        cwd=tmp_path,  # no .env here to fill them in
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode == GIVE_UP_EXIT_CODE == 2
    assert "DATABASE_URL and REDIS_URL must be set" in worker.stderr
