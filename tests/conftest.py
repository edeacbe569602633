"""Test servers: real PostgreSQL and Redis (the machine's when TEST_*_URL are set, embedded
otherwise), a fresh database built by the real migrations, and the app over real HTTP."""

from __future__ import annotations

import contextlib
import email
import email.policy
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import redis as sync_redis
import structlog
import uvicorn
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, sync_playwright
from psycopg import sql

from clientcompass.app import create_app
from clientcompass.config import Environment, Settings, generate_key_spec, with_database, with_user
from clientcompass.embedded import embedded_postgres, embedded_redis
from clientcompass.migrate import migrate
from clientcompass.twilio_standin import create_standin
from tests.support.aio import run_async
from tests.support.factories import register_app
from tests.support.waiting import wait_for
from tests.support.worker import run_queued_jobs

APP_ROLE = "clientcompass_app"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


# The test servers keep idle connections open longer than the test clients do (see LiveServer).
KEEP_ALIVE_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Databases:
    owner_url: str
    app_url: str


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    with contextlib.ExitStack() as stack:
        admin_url = os.environ.get("TEST_DATABASE_URL") or stack.enter_context(
            embedded_postgres(tmp_path_factory.mktemp("pg"))
        )
        name = f"cc_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        owner_url = with_database(admin_url, name)
        yield Databases(owner_url=owner_url, app_url=with_user(owner_url, APP_ROLE, ""))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (name,)
            )
            conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`) the browser tests share one worker: two
    Chromiums on 2 cores made taps time out; the other worker runs everything else. A browser
    test is one that uses Chromium, wherever it lives (tests/erasure, tests/exports…)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("browser"))


def xdist_redis_db(url: str) -> str:
    """Under pytest-xdist each worker gets the next Redis database after TEST_REDIS_URL's, so
    workers never share a key (throttles, metrics, streams) nor flush each other's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + int(worker[2:])) % 16}"))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        url = xdist_redis_db(url)
        sync_redis.Redis.from_url(url).flushdb()
        yield url
        return
    with embedded_redis(tmp_path_factory.mktemp("redis")) as embedded_url:
        yield embedded_url


class MailSink:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[attr-defined]
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        self.messages.append(
            {"to": ",".join(envelope.rcpt_tos), "subject": str(message["subject"]), "body": text}  # type: ignore[attr-defined]
        )
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 10) -> str:
        def arrived() -> dict[str, str] | None:
            return next((message for message in self.messages if to in message["to"]), None)

        return wait_for(arrived, timeout, f"an email to {to}", every=0.05)["body"]


@pytest.fixture(scope="session")
def mail_sink() -> Iterator[MailSink]:
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port  # type: ignore[attr-defined]
    yield sink
    controller.stop()


def make_settings(
    databases: Databases, redis_url: str, data_dir: Path, port: int, mail_port: int, **extra: object
) -> Settings:
    values: dict[str, object] = {
        "env": Environment.TEST,
        "data_dir": data_dir,
        "host": "127.0.0.1",
        "port": port,
        "public_base_url": f"http://127.0.0.1:{port}",
        "database_url": databases.owner_url,
        "database_app_role": APP_ROLE,
        "redis_url": redis_url,
        "secret_key": "test-secret-key-" + "x" * 32,
        "encryption_keys": generate_key_spec("k1"),
        "smtp_host": "127.0.0.1",
        "smtp_port": mail_port,
        "smtp_starttls": False,
        "log_level": "WARNING",
        # Outgoing webhooks to the tests' local receivers (tests/integrations test the wall
        # with this off).
        "webhook_allow_private_targets": True,
    }
    values.update(extra)
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def migrated(databases: Databases, data_dir: Path) -> Databases:
    migrate(Settings.model_validate({"database_url": databases.owner_url, "data_dir": data_dir}))
    return databases


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a `clientcompass` subprocess needs to act like these settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TEST_")}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if field.alias and value is not None:
            env[field.alias] = str(value.value if hasattr(value, "value") else value)
    return env


def started_or_dead(server: uvicorn.Server, thread: threading.Thread) -> Callable[[], bool]:
    return lambda: server.started or not thread.is_alive()


class LiveServer:
    """The real app under uvicorn in a thread, reached over real HTTP."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.base_url
        self.app = create_app(settings)
        register_app(settings)
        config = uvicorn.Config(
            self.app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            lifespan="on",
            # Longer than httpx's 5 s keep-alive expiry: with both at 5 s, a test's client
            # could reuse a connection the server was closing that instant (connection reset).
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        wait_for(started_or_dead(self.server, self.thread), 20, "the app to start", every=0.02)
        if not self.server.started:
            raise RuntimeError("the test server failed to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def run_jobs(self) -> None:
        """Run every queued job, as `clientcompass worker --once` would, in this process."""
        run_async(lambda: run_queued_jobs(self.settings))


class StandinServer:
    """The project's Twilio stand-in under uvicorn in a thread, plus its control surface."""

    def __init__(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.app = create_standin(auto_progress=True, public_base_url=self.url)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            lifespan="on",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        # One keep-alive client for every control call: a client per call costs more than
        # the call (tests make thousands).
        self.http = httpx.Client(base_url=f"{self.url}/_control/", timeout=30)

    def start(self) -> StandinServer:
        self.thread.start()
        wait_for(started_or_dead(self.server, self.thread), 20, "the stand-in", every=0.02)
        if not self.server.started:
            raise RuntimeError("the Twilio stand-in did not start")
        return self

    def control(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        response = self.http.request(method, path, **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        return response


@pytest.fixture(scope="session")
def standin() -> Iterator[StandinServer]:
    server = StandinServer().start()
    yield server
    server.http.close()
    server.server.should_exit = True
    server.thread.join(timeout=10)


@pytest.fixture(scope="session")
def settings(
    migrated: Databases, redis_url: str, data_dir: Path, mail_sink: MailSink, standin: StandinServer
) -> Settings:
    return make_settings(
        migrated,
        redis_url,
        data_dir,
        free_port(),
        mail_sink.port,  # type: ignore[attr-defined]
        twilio_api_base_url=standin.url,
        twilio_content_base_url=standin.url,
        twilio_timeout_seconds=2.0,
        whatsapp_reconcile_delay_seconds=1.0,
    )


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings).start()
    yield server
    server.stop()


StartServer = Callable[..., LiveServer]


@pytest.fixture
def server_variant(settings: Settings) -> Iterator[StartServer]:
    """Start more app servers with some settings changed; each stops when the test ends."""
    servers: list[LiveServer] = []

    def start(**changes: object) -> LiveServer:
        port = free_port()
        variant = settings.model_copy(
            update={"port": port, "public_base_url": f"http://127.0.0.1:{port}", **changes}
        )
        server = LiveServer(variant).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=20) as http:
        yield http


@pytest.fixture
def owner_conn(migrated: Databases) -> Iterator[psycopg.Connection]:
    with psycopg.connect(migrated.owner_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def app_conn(migrated: Databases) -> Iterator[psycopg.Connection]:
    """A connection as the app's real, non-owner role: RLS is in force."""
    with psycopg.connect(migrated.app_url) as conn:
        yield conn


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[sync_redis.Redis]:
    client = sync_redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put logging back after a test that installs the JSON configuration."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Debian chromium for every browser test (Playwright allows one per thread)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
