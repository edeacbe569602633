"""Kill -9 of the worker at each boundary of a flow step: no answer lost, no question twice.

A customer's message moves a run inside the inbound pipeline's job, in one transaction that
marks the message handled, locks the run, takes the answer, journals it and writes the next
question to the outbox (its send job too). So a step's boundaries are points inside that one
transaction, plus the moment after it commits and before procrastinate marks the job done.

There is no fault-injection hook in the runtime (and none is needed): each test holds a lock
the job will need at the point under test, waits until the real `clientcompass worker` is
blocked there, and SIGKILLs it. Then a fresh worker retries the stalled job, as production's
does, and the question must reach the customer exactly once, with the answer kept once.

| boundary (the customer's message) | held by the test | where the worker stops |
|---|---|---|
| before a run exists (the first message) | the conversation's advisory lock | deciding to start the run |
| before the run is locked (answering an ask) | the run's row | `SELECT … FOR UPDATE` of the run |
| answer journaled, next question not written (a choice) | the conversation row, FOR UPDATE | moving the run to the next step |
| next question written, not committed (an address) | the conversation row, FOR NO KEY UPDATE | updating the conversation after the outbox insert |
| committed, job not marked done (the last answer; the run completes) | the job's queue row | procrastinate's `finish_job` |

Each test checks the worker stopped where it should: the statement it waits in, and whether
its transaction has written the journal yet.

A redelivered webhook advancing a run twice is tested in test_runtime.py.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import Databases, LiveServer, StandinServer
from tests.support.flows import CUSTOMER, QUESTIONS, SIX_STEPS, publish
from tests.support.processes import start_worker
from tests.support.sessions import terminate
from tests.support.shop import shop_with_customer
from tests.support.waiting import wait_for
from tests.support.whatsapp import customer_says, sa_mobile, sent_to

# The steps each message of CUSTOMER answers (the first one starts the run).
STEP_IDS = ["name", "service", "suburb", "rooms", "when", "bye"]
SENDS_LEFT = (
    "select count(*) from procrastinate_jobs "
    "where task_name = 'whatsapp.send_message' and status in ('todo', 'doing')"
)
STALLED_AFTER = {"WORKER_STALLED_AFTER_SECONDS": "2"}
INBOUND_JOB = (
    "select id, status::text from procrastinate_jobs "
    "where task_name = 'conversations.inbound_recorded' and args->>'message_id' = %s"
)


@dataclass(frozen=True)
class Message:
    """The customer's message the worker is killed on, as stored."""

    id: str
    tenant_id: str
    conversation_id: str
    run_id: str | None


def hold_conversation_lock(conn: psycopg.Connection, message: Message) -> None:
    """The advisory lock flows/runtime.py takes per conversation (in cc_flow_state) before
    it looks for a run or starts one."""
    conn.execute(
        "select pg_advisory_xact_lock(hashtextextended('flow:' || %s || ':' || %s, 0))",
        (message.tenant_id, message.conversation_id),
    )


def hold_run(conn: psycopg.Connection, message: Message) -> None:
    conn.execute("select id from flow_runs where id = %s for update", (message.run_id,))


def hold_conversation(strength: str) -> Callable[[psycopg.Connection, Message], None]:
    def hold(conn: psycopg.Connection, message: Message) -> None:
        conn.execute(
            f"select id from conversations where tenant_id = %s and id = %s for {strength}",
            (message.tenant_id, message.conversation_id),
        )

    return hold


@dataclass(frozen=True)
class Boundary:
    name: str
    # Which message of CUSTOMER the worker is killed while handling.
    message: int
    hold: Callable[[psycopg.Connection, Message], None]
    # What the blocked worker's statement says (pg_stat_activity.query, case-insensitive).
    blocked_in: str
    # Stopped after the answer was written to the run's journal (in the open transaction).
    journaled: bool = False
    # Killed after the transaction committed, while finishing the job.
    after_commit: bool = False


BOUNDARIES = [
    Boundary("start-before-run", 0, hold_conversation_lock, "%cc_flow_state%"),
    Boundary("ask-before-run-lock", 1, hold_run, "%from flow_runs%for update%"),
    Boundary(
        "choice-journaled-before-question",
        2,
        hold_conversation("update"),
        # The run's second UPDATE in this transaction re-checks its foreign key to the
        # conversation (PostgreSQL does for a row version the transaction wrote itself).
        "update flow_runs set step_id=%",
        journaled=True,
    ),
    Boundary(
        "question-written-before-commit",
        3,
        hold_conversation("no key update"),
        "update conversations%",
        journaled=True,
    ),
    Boundary(
        "last-answer-committed-before-job-done",
        5,
        hold_run,
        "%procrastinate_finish_job%",
        after_commit=True,
    ),
]


def waiting(owner_conn: psycopg.Connection) -> list[str]:
    """The statements of this database waiting on a lock."""
    return [
        row[0]
        for row in owner_conn.execute(
            "select query from pg_stat_activity where datname = current_database() "
            "and wait_event_type = 'Lock'"
        )
    ]


def blocked(owner_conn: psycopg.Connection, query: str) -> None:
    """Wait until the worker waits on a lock in the statement `query` (an ILIKE pattern)."""
    pattern = ".*".join(re.escape(part) for part in query.lower().split("%"))

    def there() -> bool:
        return any(
            re.fullmatch(pattern, " ".join(statement.lower().split())) is not None
            for statement in waiting(owner_conn)
        )

    try:
        wait_for(there, timeout=60, message=query)
    except AssertionError as exc:
        raise AssertionError(
            f"the worker never waited in {query!r}; waiting: {waiting(owner_conn)}"
        ) from exc


def end_blocked_sessions(owner_conn: psycopg.Connection) -> None:
    """End this database's sessions that wait on a lock (a killed worker's), and wait."""
    pids = {
        row[0]
        for row in owner_conn.execute(
            "select pid from pg_stat_activity where datname = current_database() "
            "and wait_event_type = 'Lock'"
        )
    }
    if pids:
        terminate(owner_conn, pids)


def blocked_worker_wrote(owner_conn: psycopg.Connection, table: str) -> bool:
    """Whether the backend waiting on a lock has written to `table` in its transaction."""
    row = owner_conn.execute(
        "select count(*) from pg_locks l join pg_stat_activity a on a.pid = l.pid "
        "where a.datname = current_database() and a.wait_event_type = 'Lock' "
        "and l.relation = %s::regclass and l.mode = 'RowExclusiveLock' and l.granted",
        (table,),
    ).fetchone()
    return row is not None and row[0] >= 1


def stored(owner_conn: psycopg.Connection, sid: str) -> Message:
    row = owner_conn.execute(
        "select m.id::text, m.tenant_id::text, m.conversation_id::text, "
        "(select r.id::text from flow_runs r where r.tenant_id = m.tenant_id "
        "and r.conversation_id = m.conversation_id order by r.started_at desc limit 1) "
        "from messages m where m.provider_sid = %s",
        (sid,),
    ).fetchone()
    assert row is not None, f"no message {sid}"
    return Message(*row)


def asked(standin: StandinServer, phone: str) -> list[int]:
    """How many times each question (and the goodbye) reached the customer."""
    bodies = [m["body"] for m in sent_to(standin, phone)]
    return [sum(body.startswith(question) for body in bodies) for question in QUESTIONS]


def run_state(owner_conn: psycopg.Connection, phone: str) -> list[tuple[Any, ...]]:
    return owner_conn.execute(
        "select r.status, r.step_id, r.answers from flow_runs r join contacts c "
        "on c.tenant_id = r.tenant_id and c.id = r.contact_id where c.phone_e164 = %s",
        (phone,),
    ).fetchall()


def kill(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait()


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=[b.name for b in BOUNDARIES])
def test_a_worker_killed_at_a_step_boundary_loses_no_answer_and_asks_once(
    boundary: Boundary,
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    migrated: Databases,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, SIX_STEPS)
    live_server.run_jobs()
    phone = sa_mobile()
    for body in CUSTOMER[: boundary.message]:
        customer_says(standin, shop.channel, phone, body)
        live_server.run_jobs()
    assert asked(standin, phone) == [1] * boundary.message + [0] * (6 - boundary.message)

    delivered = customer_says(standin, shop.channel, phone, CUSTOMER[boundary.message])
    assert delivered["status_code"] == 200
    message = stored(owner_conn, delivered["message_sid"])
    (job_id, status) = owner_conn.execute(INBOUND_JOB, (message.id,)).fetchone()  # type: ignore[misc]
    assert status == "todo"

    with (
        psycopg.connect(migrated.owner_url) as holder,
        psycopg.connect(migrated.owner_url) as job_holder,
    ):
        boundary.hold(holder, message)
        worker = start_worker(live_server.settings, **STALLED_AFTER)
        try:
            first_stop = "%from flow_runs%for update%" if boundary.after_commit else None
            blocked(owner_conn, first_stop or boundary.blocked_in)
            assert owner_conn.execute(INBOUND_JOB, (message.id,)).fetchone() == (job_id, "doing")
            assert blocked_worker_wrote(owner_conn, "flow_run_steps") is boundary.journaled
            if boundary.after_commit:
                # Hold the job's queue row, then let the transaction run and commit: the
                # worker stops where it marks the job done.
                job_holder.execute(
                    "select id from procrastinate_jobs where id = %s for update", (job_id,)
                )
                holder.rollback()
                blocked(owner_conn, boundary.blocked_in)
                assert run_state(owner_conn, phone)[0][0] == "completed"  # committed
                # Its send job (another job, whose own crashes the outbox's tests cover)
                # finishes before the kill: what is tested is the inbound job running again.
                wait_for(
                    lambda: (
                        asked(standin, phone)[boundary.message] == 1
                        and owner_conn.execute(SENDS_LEFT).fetchone() == (0,)
                    ),
                    timeout=30,
                    message="the goodbye to go out while the inbound job is unfinished",
                )
        finally:
            kill(worker)
            # The machine goes with it: the worker's session, blocked on our lock, would
            # otherwise run on once it is released, and the queue's connections autocommit
            # (db.job_queue_pool), so its "job done" would land without it.
            end_blocked_sessions(owner_conn)
        holder.rollback()
        job_holder.rollback()

    assert owner_conn.execute(INBOUND_JOB, (message.id,)).fetchone() == (job_id, "doing")
    if not boundary.after_commit:
        assert asked(standin, phone)[boundary.message] == 0  # nothing went before the kill
    time.sleep(2.5)  # the dead worker's heartbeat goes stale

    worker = start_worker(live_server.settings, **STALLED_AFTER)
    try:
        wait_for(
            lambda: asked(standin, phone)[boundary.message] >= 1,
            timeout=60,
            message="the next question after the job ran again",
        )
        wait_for(
            lambda: (
                owner_conn.execute(INBOUND_JOB, (message.id,)).fetchone() == (job_id, "succeeded")
            ),
            timeout=30,
            message="the retried job to succeed",
        )
        time.sleep(1)  # room for a duplicate to show up, if there were one
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)

    assert asked(standin, phone) == [1] * (boundary.message + 1) + [0] * (5 - boundary.message)
    runs = run_state(owner_conn, phone)
    assert len(runs) == 1, runs
    status, step_id, answers = runs[0]
    if boundary.message < len(CUSTOMER) - 1:
        assert (status, step_id) == ("running", STEP_IDS[boundary.message])
    else:
        assert status == "completed"
    if boundary.message:
        # The answer was taken once: one journal entry consumed this message.
        taken = owner_conn.execute(
            "select outcome from flow_run_steps where inbound_message_id = %s", (message.id,)
        ).fetchall()
        assert taken in ([("answered",)], [("chose",)]), taken
        assert len(answers) >= boundary.message

    # The customer finishes the flow; every message went exactly once.
    for body in CUSTOMER[boundary.message + 1 :]:
        customer_says(standin, shop.channel, phone, body)
        live_server.run_jobs()
    assert asked(standin, phone) == [1] * 6
    final = run_state(owner_conn, phone)
    assert [row[0] for row in final] == ["completed"]
    assert final[0][2]["name"] == "Thandi Mokoena" and final[0][2]["service_id"] == "geyser"
    assert final[0][2]["rooms"] in ("3", 3) and final[0][2]["visit"]
