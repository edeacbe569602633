"""The fault tests' own stack: a private PostgreSQL and Redis they stop and start, and the real
`clientcompass web` and `worker` processes on them, with one business and its WhatsApp number.

Select these tests with `-m fault` (or by their folder). The stack is shared by the tests of a
module; each test leaves it running and recovered, and checks that it did.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from clientcompass.accounts import service as accounts
from clientcompass.auth import tokens
from clientcompass.config import Settings, with_user
from clientcompass.migrate import migrate
from tests.conftest import APP_ROLE, Databases, MailSink, StandinServer, free_port, make_settings
from tests.faults.servers import PrivatePostgres, PrivateRedis
from tests.support import factories
from tests.support.factories import Account, Services
from tests.support.processes import LogLines, start_logged
from tests.support.waiting import wait_for
from tests.support.whatsapp import sa_mobile


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault: stops a private PostgreSQL or Redis under the running app"
    )


@dataclass
class Stack:
    postgres: PrivatePostgres
    redis: PrivateRedis
    settings: Settings
    account: Account
    channel: dict[str, str]
    web: subprocess.Popen[bytes]
    web_logs: LogLines
    worker: subprocess.Popen[bytes]
    worker_logs: LogLines
    page: httpx.Client  # signed in with a session cookie, as a browser
    api: httpx.Client  # with a personal API token, as an API client

    def owner_conn(self) -> psycopg.Connection:
        return psycopg.connect(self.settings.database_url, autocommit=True)

    def unhandled(self) -> int:
        """Inbound messages whose follow-up job has not run yet."""
        with self.owner_conn() as conn:
            row = conn.execute(
                "select count(*) from messages where tenant_id = %s and direction = 'inbound' "
                "and handled_at is null",
                (self.account.tenant_id,),
            ).fetchone()
        assert row is not None
        return int(row[0])


def loop_started(line: dict[str, object]) -> bool:
    """procrastinate's line for a worker loop starting: at start-up, and on each resume."""
    return str(line.get("event", "")).startswith("Starting worker on")


def _api_token(settings: Settings, account: Account) -> str:
    async def issue(services: Services) -> str:
        async with services.unit_of_work(account.tenant_id) as uow:
            user = await accounts.get_user(uow, account.user_id)
            return (await tokens.create_api_token(uow, user, name="fault tests")).token

    return factories.run(settings, issue)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _serving(url: str, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, "clientcompass web exited at start"
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, mail_sink: MailSink, standin: StandinServer
) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("faults")
    with contextlib.ExitStack() as cleanup:
        postgres = PrivatePostgres()
        cleanup.callback(postgres.close)
        (root / "redis").mkdir()
        redis = PrivateRedis(root / "redis")
        cleanup.callback(redis.close)
        port = free_port()
        databases = Databases(postgres.url, with_user(postgres.url, APP_ROLE, ""))
        settings = make_settings(
            databases,
            redis.url,
            Path(root / "data"),
            port,
            mail_sink.port,  # type: ignore[attr-defined]
            twilio_api_base_url=standin.url,
            twilio_content_base_url=standin.url,
        )
        migrate(settings)
        factories.register_app(settings)
        account = factories.business_with_owner(settings)
        channel = factories.whatsapp_channel(
            settings, standin, account.tenant_id, account.user_id, f"whatsapp:{sa_mobile()}"
        )
        token = _api_token(settings, account)

        # No lingering for a proxy to notice the drain at the end: there is none.
        web, web_logs = start_logged(["web"], settings, SHUTDOWN_NOTICE_SECONDS="0")
        cleanup.callback(_stop, web)
        # At INFO, procrastinate says when its loop starts (again): see `loop_started`.
        worker, worker_logs = start_logged(["worker"], settings, LOG_LEVEL="INFO")
        cleanup.callback(_stop, worker)
        wait_for(lambda: _serving(settings.base_url, web), 60, "clientcompass web to start")
        worker_logs.wait_for(loop_started, 60, "the worker to start")

        page = cleanup.enter_context(httpx.Client(base_url=settings.base_url, timeout=15))
        factories.sign_in(page, account)
        api = cleanup.enter_context(
            httpx.Client(
                base_url=settings.base_url,
                timeout=15,
                headers={"Authorization": f"Bearer {token}"},
            )
        )
        yield Stack(
            postgres,
            redis,
            settings,
            account,
            channel,
            web,
            web_logs,
            worker,
            worker_logs,
            page,
            api,
        )
