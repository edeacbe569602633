"""A ten-second Redis or PostgreSQL outage under a stream of signed inbound webhooks: nothing
acknowledged is lost or stored twice, people get a clear 503 (never a 500 or a hang), and the
web app and the worker recover by themselves, as the same processes, with no restart.

Each test prints its figures as one `FAULT <name> …` line."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.faults.conftest import Stack, loop_started
from tests.faults.webhooks import WebhookStream, tally
from tests.support.waiting import wait_for

pytestmark = pytest.mark.fault

OUTAGE_SECONDS = 10
# Not a speed figure but "no hang": a webhook answered while a server is down comes within its
# pool's bound (db.BACKGROUND_POOL_TIMEOUT_SECONDS, 2.5 s) plus a margin.
FAST_SECONDS = 3.5


def ready(stack: Stack) -> httpx.Response:
    return stack.page.get("/readyz")


def down(stack: Stack, service: str) -> bool:
    response = ready(stack)
    return response.status_code == 503 and service in response.json()["down"]


def timed(call: httpx.Response) -> float:
    return call.elapsed.total_seconds()


def recovered(stack: Stack) -> bool:
    """Readiness, a signed-in page and the API all answer as before the outage."""
    return (
        ready(stack).status_code == 200
        and stack.page.get("/inbox").status_code == 200
        and stack.api.get("/api/v1/conversations").status_code == 200
    )


def settle(stack: Stack, stream: WebhookStream) -> tuple[int, float]:
    """Stop the stream once it is acknowledged again; Twilio redelivers the rest. Returns the
    redeliveries and when the first acknowledgement after `stream`'s outage came."""
    stream.stop()
    return stream.redeliver_unacknowledged(), time.monotonic()


class EventFollower:
    """An API client reading `/api/v1/events` on a thread until the server ends the stream."""

    def __init__(self, api: httpx.Client) -> None:
        self.lines: list[str] = []
        self.errors: list[Exception] = []
        self.thread = threading.Thread(target=self._follow, args=(api,), daemon=True)
        self.thread.start()
        wait_for(lambda: ": connected" in self.lines, 10, "the event stream to open")

    def _follow(self, api: httpx.Client) -> None:
        try:
            with api.stream("GET", "/api/v1/events") as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    self.lines.append(line)
        except Exception as exc:
            self.errors.append(exc)


def worker_still_working(stack: Stack, pid: int) -> None:
    """The worker that ran before the outage (same pid, never restarted) runs every job,
    including those queued after the outage."""
    assert stack.worker.poll() is None, "the worker exited"
    assert stack.worker.pid == pid
    wait_for(lambda: stack.unhandled() == 0, 60, "the worker to handle every message", every=0.5)
    assert stack.worker.poll() is None


def test_a_redis_outage_loses_no_acknowledged_message_and_heals_itself(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    web_pid, worker_pid = stack.web.pid, stack.worker.pid
    assert recovered(stack)
    stream = WebhookStream(stack.channel).start()
    wait_for(lambda: len(stream.acknowledged()) >= 20, 30, "webhooks flowing")
    events = EventFollower(stack.api)

    stopped_at = time.monotonic()
    stack.redis.stop()
    wait_for(lambda: down(stack, "redis"), 10, "/readyz to name redis as down")
    page = stack.page.get("/inbox")
    assert page.status_code == 503, page.text[:300]
    assert "We can&#39;t reach our sign-in and live-update service" in page.text
    assert page.headers["retry-after"].isdigit()
    assert timed(page) < FAST_SECONDS
    # The API token lives in PostgreSQL: what needs only PostgreSQL still works.
    listed = stack.api.get("/api/v1/conversations")
    assert listed.status_code == 200, listed.text[:300]
    # A live event stream ends cleanly, telling the browser when to reconnect.
    events.thread.join(timeout=10)
    assert not events.thread.is_alive() and events.errors == []
    assert events.lines[-3:] == ["retry: 3000", ": redis unavailable", ""], events.lines[-3:]
    time.sleep(max(0.0, stopped_at + OUTAGE_SECONDS - time.monotonic()))
    during = stream.between(stopped_at, time.monotonic())
    stack.redis.start()
    started_at = time.monotonic()

    wait_for(lambda: recovered(stack), 20, "the app to recover without a restart", every=0.2)
    healed_at = time.monotonic()
    redelivered, _ = settle(stack, stream)
    with stack.owner_conn() as conn:
        counted = tally(stream, conn, stack.account.tenant_id, redelivered)
    with capsys.disabled():
        print(
            "\n"
            + counted.line(
                "redis_outage",
                outage_s=OUTAGE_SECONDS,
                during_outage=len(during),
                healed_after_s=round(healed_at - started_at, 2),
            )
        )
    # Storing a message needs only PostgreSQL: every webhook was acknowledged throughout.
    assert during and all(d.status == 200 for d in during)
    assert counted.lost == 0 and counted.duplicates == 0
    assert counted.stored == counted.sent == counted.acknowledged
    assert stack.web.poll() is None and stack.web.pid == web_pid
    worker_still_working(stack, worker_pid)


def test_a_postgresql_outage_answers_503_fast_then_heals_and_stores_each_message_once(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    web_pid, worker_pid = stack.web.pid, stack.worker.pid
    loops_before = len(stack.worker_logs.matching(loop_started))
    assert recovered(stack)
    stream = WebhookStream(stack.channel).start()
    wait_for(lambda: len(stream.acknowledged()) >= 20, 30, "webhooks flowing")

    stopped_at = time.monotonic()
    stack.postgres.stop()
    wait_for(lambda: down(stack, "postgresql"), 10, "/readyz to name postgresql as down")
    page = stack.page.get("/inbox")
    assert page.status_code == 503, page.text[:300]
    assert "We can&#39;t reach our database; your work is safe, try again in a moment." in (
        page.text
    )
    assert page.headers["retry-after"].isdigit()
    listed = stack.api.get("/api/v1/conversations")
    assert listed.status_code == 503, listed.text[:300]
    assert listed.json()["error"]["code"] == "database_unavailable"
    assert listed.headers["retry-after"].isdigit()
    assert max(timed(page), timed(listed)) < FAST_SECONDS
    time.sleep(max(0.0, stopped_at + OUTAGE_SECONDS - time.monotonic()))
    restarting_at = time.monotonic()
    during = stream.between(stopped_at + 0.5, restarting_at)
    stack.postgres.start()
    started_at = time.monotonic()

    wait_for(lambda: stream.first_ack_after(started_at), 20, "webhooks acknowledged again")
    wait_for(lambda: recovered(stack), 20, "the app to recover without a restart", every=0.2)
    healed_at = time.monotonic()
    time.sleep(1)  # messages (and their jobs) stored after the outage, too
    redelivered, _ = settle(stack, stream)
    with stack.owner_conn() as conn:
        counted = tally(stream, conn, stack.account.tenant_id, redelivered)
    slowest = max((d.seconds for d in during), default=0.0)
    with capsys.disabled():
        print(
            "\n"
            + counted.line(
                "postgresql_outage",
                outage_s=OUTAGE_SECONDS,
                during_outage=len(during),
                slowest_answer_during_outage_s=round(slowest, 2),
                acknowledged_again_after_s=round(
                    (stream.first_ack_after(started_at) or 0) - started_at, 2
                ),
                healed_after_s=round(healed_at - started_at, 2),
            )
        )
    # While it was down every webhook was answered, fast, with a 503 for Twilio to retry.
    assert during, "no webhook was sent during the outage"
    assert {d.status for d in during} == {503}, sorted({str(d.status) for d in during})
    assert slowest < FAST_SECONDS
    # Every acknowledged message is stored once; Twilio's redeliveries stored the rest.
    assert counted.lost == 0 and counted.duplicates == 0
    assert counted.stored == counted.sent
    assert stack.web.poll() is None and stack.web.pid == web_pid
    worker_still_working(stack, worker_pid)
    # It got there by starting its loop again in the same process, not by luck.
    assert stack.worker_logs.matching(lambda line: "resuming when it is back" in line["event"])
    assert len(stack.worker_logs.matching(loop_started)) > loops_before
