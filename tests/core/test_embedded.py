"""`clientcompass serve` on a bare machine: embedded PostgreSQL and Redis, data kept between
starts, and nothing left running after Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from tests.conftest import free_port
from tests.support.accounts import PASSWORD, log_in, sign_up_through_the_form
from tests.support.waiting import wait_for


def start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DATABASE_APP_URL"}
        and not key.startswith("TEST_")
    }
    env.update({"CLIENTCOMPASS_DATA_DIR": str(data_dir), "PORT": str(port), "LOG_LEVEL": "WARNING"})
    return subprocess.Popen(
        [sys.executable, "-m", "clientcompass", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    def ready() -> bool:
        assert process.poll() is None, "serve exited while starting"
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(ready, 90, "serve to be ready", every=0.2)


def spawned_by(process: subprocess.Popen[bytes], data_dir: Path) -> list[psutil.Process]:
    """Every process `serve` started: its children (web, worker, redis) and the postmaster."""
    children = psutil.Process(process.pid).children(recursive=True)
    postmaster_pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    return [*children, psutil.Process(postmaster_pid)]


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0


def test_serve_runs_on_embedded_servers_and_keeps_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = start(data_dir, port)
    try:
        wait_ready(url, first)
        with httpx.Client(base_url=url) as browser:
            account = sign_up_through_the_form(browser)
        started = spawned_by(first, data_dir)
        names = " ".join(p.name() for p in started)
        assert "redis-server" in names and "postgres" in names and len(started) >= 4
    finally:
        stop(first)
    assert (data_dir / "postgres" / "PG_VERSION").exists()
    assert (data_dir / "encryption.key").exists() and (data_dir / "secret.key").exists()
    _, alive = psutil.wait_procs(started, timeout=10)
    assert alive == [], f"left running after Ctrl-C: {[p.info for p in alive]}"

    second = start(data_dir, port)
    try:
        wait_ready(url, second)
        with httpx.Client(base_url=url) as browser:
            assert log_in(browser, account.email, PASSWORD).status_code == 303
            assert browser.get("/api/v1/me").json()["email"] == account.email
    finally:
        stop(second)
