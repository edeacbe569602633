"""The systemd units in deploy/systemd/ say what deploy/README.md promises: each command
restarted always, as a non-root user, from the environment file, with a stop timeout the
drain fits in. `systemd-analyze verify` checks them where this machine has systemd."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clientcompass.config import Settings
from clientcompass.supervisor import GIVE_UP_EXIT_CODE
from tests.conftest import PROJECT_ROOT

UNITS = PROJECT_ROOT / "deploy" / "systemd"
COMMANDS = {"clientcompass-web.service": "web", "clientcompass-worker.service": "worker"}
# Newer than Debian 12's systemd 252, which ignores them with a warning (deploy/README.md).
NEWER_KEYS = {"RestartSteps", "RestartMaxDelaySec"}


def unit(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser["Service"]


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(s|min)?", value)
    assert match, value
    return int(match[1]) * (60 if match[2] == "min" else 1)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_unit_restarts_its_command_as_a_non_root_user(name: str) -> None:
    service = unit(name)
    assert service["ExecStart"].split()[1:] == [COMMANDS[name]]
    assert service["ExecStart"].split()[0].endswith("/bin/clientcompass")
    assert service["Restart"] == "always" and seconds(service["RestartSec"]) >= 1
    assert service["RestartPreventExitStatus"] == str(GIVE_UP_EXIT_CODE)
    assert service["User"] and service["User"] != "root" and service["Group"] != "root"
    assert service["EnvironmentFile"] == "/etc/clientcompass/clientcompass.env"
    assert service["KillSignal"] == "SIGTERM"
    defaults = Settings.model_fields
    drain = defaults["shutdown_notice_seconds"].default + defaults["shutdown_grace_seconds"].default
    assert seconds(service["TimeoutStopSec"]) > drain


def test_the_environment_file_sets_only_real_settings_and_what_production_needs() -> None:
    names = {
        line.split("=", 1)[0]
        for line in (UNITS / "clientcompass.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    assert names - known == set(), "not settings the app reads"
    required = {"CLIENTCOMPASS_ENV", "DATABASE_APP_URL", "REDIS_URL", "SECRET_KEY"}
    assert required | {"ENCRYPTION_KEYS", "PUBLIC_BASE_URL", "SHUTDOWN_GRACE_SECONDS"} <= names


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    """Verified with ExecStart pointed at this checkout's `clientcompass` (it must exist)."""
    executable = Path(sys.executable).parent / "clientcompass"
    for name in COMMANDS:
        text = (UNITS / name).read_text()
        text = text.replace("/opt/clientcompass/.venv/bin/clientcompass", str(executable))
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(f"./{name}" for name in COMMANDS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    complaints = [
        line
        for line in result.stderr.splitlines()
        if ".service" in line and not any(f"Unknown key '{key}'" in line for key in NEWER_KEYS)
    ]
    assert complaints == []
