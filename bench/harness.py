"""What every benchmark needs: real PostgreSQL and Redis (TEST_*_URL or embedded), a fresh
migrated database, the app under uvicorn in its own process, and a load driver."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import uvicorn
from psycopg import sql

from clientcompass.config import Settings, generate_key_spec, with_database
from clientcompass.embedded import embedded_postgres, embedded_redis
from clientcompass.migrate import migrate
from clientcompass.twilio_standin import create_standin


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    url: str
    owner_url: str
    redis_url: str
    env: dict[str, str]
    twilio_url: str
    web_pid: int = 0


@contextlib.contextmanager
def standin_server() -> Iterator[str]:
    """The project's Twilio stand-in under uvicorn in a thread; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        create_standin(auto_progress=False, public_base_url=url),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def stack(extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """A migrated scratch database, Redis, the Twilio stand-in, and `clientcompass web`."""
    with contextlib.ExitStack() as exits:
        scratch = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="cc-bench-")))
        admin_url = os.environ.get("TEST_DATABASE_URL") or exits.enter_context(
            embedded_postgres(scratch / "pg")
        )
        redis_url = os.environ.get("TEST_REDIS_URL") or exits.enter_context(
            embedded_redis(scratch / "redis")
        )
        name = f"cc_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        exits.callback(_drop, admin_url, name)
        owner_url = with_database(admin_url, name)
        migrate(Settings.model_validate({"database_url": owner_url, "data_dir": scratch}))
        twilio_url = exits.enter_context(standin_server())
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TEST_")},
            "DATABASE_URL": owner_url,
            "REDIS_URL": redis_url,
            "PORT": str(port),
            "CLIENTCOMPASS_DATA_DIR": str(scratch),
            "SECRET_KEY": "bench-" + "k" * 40,
            "ENCRYPTION_KEYS": generate_key_spec(),
            "LOG_LEVEL": "WARNING",
            "LOGIN_MAX_FAILURES_PER_IP": "1000000",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "TWILIO_API_BASE_URL": twilio_url,
            "TWILIO_CONTENT_BASE_URL": twilio_url,
            **(extra_env or {}),
        }
        web = subprocess.Popen([sys.executable, "-m", "clientcompass", "web"], env=env)
        exits.callback(_stop, web)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        yield Stack(
            url=url,
            owner_url=owner_url,
            redis_url=redis_url,
            env=env,
            twilio_url=twilio_url,
            web_pid=web.pid,
        )


def _drop(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (name,)
        )
        conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_ready(url: str, *, path: str = "/readyz", method: str = "GET") -> None:
    """Wait until the server answers at all (any status but a connection error, for non-/readyz)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            status = httpx.request(method, f"{url}{path}", timeout=2).status_code
            if status == 200 or path != "/readyz":
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms)


async def drive(
    total: int,
    concurrency: int,
    make_request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    base_url: str,
) -> LoadResult:
    """Send `total` requests over `concurrency` connections; every one must succeed."""
    latencies: list[float] = []
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for index in counter:
                started = time.perf_counter()
                response = await make_request(client, index)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code >= 400:
                    raise RuntimeError(
                        f"request {index} failed: {response.status_code} {response.text[:200]}"
                    )

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(total, elapsed, latencies)


def report(name: str, result: LoadResult) -> None:
    print(f"BENCH {name}_throughput {result.throughput:.1f} req/s")
    print(f"BENCH {name}_p50 {result.p50:.2f} ms")
    print(f"BENCH {name}_p99 {result.percentile(99):.2f} ms", flush=True)
