"""No job is lost when a worker is stopped mid-job: on SIGTERM the real `clientcompass worker`
takes no new job and finishes the one it is running before it exits; and if it is killed
before it finishes (a supervisor's stop timeout ran out), the job goes back in the queue and
the next worker does it, once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller

from clientcompass.config import Settings
from tests.conftest import free_port
from tests.lifecycle.jobs import defer_email, job_status
from tests.support.accounts import unique_email
from tests.support.processes import start_worker
from tests.support.waiting import wait_for

STALLED_AFTER = "2"


class GatedSmtp:
    """A real SMTP server that holds `RCPT TO:<held>` until `release` is set, so a worker's
    send_email job is mid-way for as long as the test needs. Nothing is delivered before
    DATA completes, so a sender killed while held delivers nothing."""

    def __init__(self, held: str) -> None:
        self.held = held
        self.holding = threading.Event()
        self.release = threading.Event()
        self.delivered: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == self.held and not self.release.is_set():
            self.holding.set()
            await asyncio.to_thread(self.release.wait, 60)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.delivered.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def gated(settings: Settings) -> Iterator[tuple[GatedSmtp, Settings]]:
    """The gate, and settings whose worker mails through it."""
    smtp = GatedSmtp(unique_email("drain"))
    controller = Controller(smtp, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield smtp, settings.model_copy(update={"smtp_port": controller.port})
    smtp.release.set()
    controller.stop()


def worker(settings: Settings) -> subprocess.Popen[bytes]:
    return start_worker(settings, WORKER_STALLED_AFTER_SECONDS=STALLED_AFTER)


def stalled(conn: psycopg.Connection, job_id: int) -> bool:
    """Whether a starting worker would put the job back: its worker's heartbeat is old."""
    row = conn.execute(
        "select j.worker_id is null or w.last_heartbeat < now() - %s * interval '1 second' "
        "from procrastinate_jobs j left join procrastinate_workers w on w.id = j.worker_id "
        "where j.id = %s",
        (int(STALLED_AFTER), job_id),
    ).fetchone()
    return bool(row and row[0])


def test_sigterm_lets_the_running_job_finish(
    gated: tuple[GatedSmtp, Settings], owner_conn: psycopg.Connection
) -> None:
    smtp, settings = gated
    job_id = defer_email(settings, smtp.held)
    first = worker(settings)
    try:
        assert smtp.holding.wait(90), "the worker never started the job"
        first.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            first.wait(timeout=1)  # it does not walk away from the job it holds
        assert job_status(owner_conn, job_id) == "doing"
        smtp.release.set()
        assert first.wait(timeout=20) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert job_status(owner_conn, job_id) == "succeeded"
    assert smtp.delivered.count(smtp.held) == 1


def test_a_worker_killed_while_stopping_leaves_its_job_to_the_next_one(
    gated: tuple[GatedSmtp, Settings], owner_conn: psycopg.Connection
) -> None:
    smtp, settings = gated
    job_id = defer_email(settings, smtp.held)
    first = worker(settings)
    try:
        assert smtp.holding.wait(90), "the worker never started the job"
        first.send_signal(signal.SIGTERM)
    finally:
        first.kill()  # the stop timeout ran out: SIGKILL, as systemd or `serve` would
        first.wait()
    assert job_status(owner_conn, job_id) == "doing"
    smtp.release.set()  # the dead worker's SMTP session ends without a message
    wait_for(lambda: stalled(owner_conn, job_id), 15, "the dead worker's heartbeat to age")

    second = worker(settings)
    try:
        wait_for(lambda: job_status(owner_conn, job_id) == "succeeded", 90, "the next worker")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=20) == 0
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert smtp.delivered.count(smtp.held) == 1, "delivered exactly once"
