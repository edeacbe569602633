"""A job is written in the very transaction of the data it acts on, so no crash can fall
between the commit and the defer. PostgreSQL says so itself: a row's `xmin` is the id of the
transaction that wrote it, and the data row and its job row share one.

And a unit of work never gets a pooled connection whose server has gone (a restart, a
failover, an administrator's kill): the pool replaces it before the work starts."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from typing import Any

import httpx
import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event, text

from clientcompass import jobs, work
from clientcompass.config import Settings
from clientcompass.db import Database, FastPath, create_engine
from tests.conftest import Databases, StandinServer
from tests.support.accounts import sign_up, unique_email
from tests.support.aio import run_async
from tests.support.forms import api_headers, post_form
from tests.support.sessions import terminate
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile


def test_an_invitation_email_commits_with_the_invitation(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    email = unique_email("invitee")
    response = post_form(
        client,
        "/settings/team/invite",
        {"email": email, "role": "agent"},
        csrf_page="/settings/team",
    )
    assert response.status_code == 201
    row = owner_conn.execute(
        "select i.xmin::text, j.xmin::text from invitations i, procrastinate_jobs j "
        "where i.email = %s and j.task_name = 'send_email' and j.args->>'to' = %s",
        (email, email),
    ).fetchone()
    assert row is not None and row[0] == row[1]


def test_a_send_and_an_inbound_message_commit_with_their_jobs(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    received = customer_says(standin, channel, phone, "Is Tuesday fine?")
    inbound = owner_conn.execute(
        "select m.xmin::text, j.xmin::text from messages m join procrastinate_jobs j "
        "on j.args->>'message_id' = m.id::text "
        "where m.provider_sid = %s and j.task_name = 'conversations.inbound_recorded'",
        (received["message_sid"],),
    ).fetchall()
    assert len(inbound) == 1 and inbound[0][0] == inbound[0][1]

    conversation_id = conversation_with(client, phone)["id"]
    sent = client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "Tuesday is fine"},
        headers=api_headers(client),
    )
    assert sent.status_code == 202
    outbound = owner_conn.execute(
        "select m.xmin::text, j.xmin::text from messages m join procrastinate_jobs j "
        "on j.args->>'message_id' = m.id::text "
        "where m.id = %s and j.task_name = 'whatsapp.send_message'",
        (sent.json()["id"],),
    ).fetchall()
    assert len(outbound) == 1 and outbound[0][0] == outbound[0][1]


async def backend_pid(db: Database) -> int:
    async with db.unit_of_work() as uow:
        return int((await uow.session.execute(text("select pg_backend_pid()"))).scalar_one())


async def pool_pids(pool: AsyncConnectionPool[Any], count: int) -> set[int]:
    """Hold `count` pooled connections at once, so each is a different one; each autocommits
    (FastPath's and the job queue's: one statement per checkout, no BEGIN…COMMIT)."""
    async with contextlib.AsyncExitStack() as held:
        pids = set()
        for _ in range(count):
            conn = await held.enter_async_context(pool.connection())
            assert conn.autocommit
            row = await (await conn.execute("select pg_backend_pid()")).fetchone()
            assert row is not None
            pids.add(int(row[0]))
        return pids


def test_pooled_connections_whose_server_went_away_are_replaced_before_use(
    migrated: Databases, owner_conn: psycopg.Connection
) -> None:
    async def scenario() -> None:
        db = Database(create_engine(migrated.app_url, pool_size=1))
        fast = FastPath(migrated.app_url, max_size=2)
        await fast.open()
        try:
            before = {await backend_pid(db)} | await pool_pids(fast.pool, 2)
            assert len(before) == 3
            await asyncio.to_thread(terminate, owner_conn, before)
            # No error reaches the caller: each dead connection is noticed at checkout.
            after = {await backend_pid(db)} | await pool_pids(fast.pool, 2)
            assert len(after) == 3 and not after & before
        finally:
            await fast.close()
            await db.dispose()

    run_async(scenario)


def test_the_job_queue_pool_autocommits_and_replaces_dead_connections_without_a_ping(
    settings: Settings, owner_conn: psycopg.Connection
) -> None:
    """procrastinate's pool is ours (db.job_queue_pool): a queue call is one round trip, and a
    connection the server dropped is still never handed to procrastinate."""

    async def scenario() -> None:
        job_app, resources = jobs.build_job_app(settings)
        async with job_app.open_async():
            try:
                pool = job_app.connector.pool
                before = await pool_pids(pool, 2)
                await asyncio.to_thread(terminate, owner_conn, before)
                after = await pool_pids(pool, 2)
                assert len(after) == 2 and not after & before
                # And the queue answers on the new connections (this raises if it can't).
                await jobs.any_due(job_app)
            finally:
                await resources.close()

    run_async(scenario)


class Traced:
    """Every message the engine's connections send to the server (libpq's protocol trace),
    from checkout to checkin."""

    def __init__(self, db: Database) -> None:
        self.file = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by sent())
        pool = db.engine.sync_engine.pool
        event.listen(pool, "checkout", self._checkout)
        event.listen(pool, "checkin", self._checkin)

    def _checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.driver_connection.pgconn.trace(self.file.fileno())

    def _checkin(self, dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.driver_connection.pgconn.untrace()

    def sent(self) -> list[str]:
        """What went to the server, a line per round trip: a simple query's text, or the
        statements of one extended-protocol exchange (ended by Sync). Once: it ends the trace."""
        with self.file:
            self.file.seek(0)
            lines = self.file.read().splitlines()
        trips: list[str] = []
        pending: list[str] = []
        for line in lines:
            fields = line.split("\t")
            if len(fields) < 4 or fields[1] != "F":
                continue
            message, detail = fields[3], fields[4].strip() if len(fields) > 4 else ""
            if message == "Query":
                trips.append(detail)
            elif message in ("Parse", "Bind"):
                pending.append(detail)
            elif message == "Sync":
                trips.append(" ".join(pending))
                pending = []
        return trips


def test_a_unit_of_work_begins_with_its_tenant_in_one_round_trip(migrated: Databases) -> None:
    """BEGIN and the tenant go together, and the work's statements share one transaction."""

    async def scenario() -> tuple[list[str], set[str], str]:
        db = Database(create_engine(migrated.app_url, pool_size=1))
        try:
            async with db.unit_of_work(uuid.uuid4()) as uow:  # a warm connection, as a worker's
                await uow.session.execute(text("select 1"))
            traced = Traced(db)
            async with db.unit_of_work(tenant := uuid.uuid4()) as uow:
                first = (await uow.session.execute(text(TRANSACTION_AND_TENANT))).one()
                second = (await uow.session.execute(text(TRANSACTION_AND_TENANT))).one()
            assert first[1] == second[1] == str(tenant)
            return traced.sent(), {first[0], second[0]}, str(tenant)
        finally:
            await db.dispose()

    sent, transactions, tenant = run_async(scenario)
    assert sent[0] == f"\"BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true)\""
    assert all(TRANSACTION_AND_TENANT in trip for trip in sent[1:-1])
    assert sent[-1] == '"COMMIT"'
    assert len(sent) == 4  # the begin with its tenant, the two statements, the commit
    assert len(transactions) == 1


TRANSACTION_AND_TENANT = "select txid_current()::text, current_setting('app.tenant_id')"


def test_a_unit_of_work_that_fails_leaves_nothing_and_its_connection_clean(
    migrated: Databases,
) -> None:
    """The connections autocommit at the driver, so a missing BEGIN would show here: the
    insert before the failure would stay, and the next work would see the old tenant."""

    async def scenario() -> tuple[int, str, str]:
        db = Database(create_engine(migrated.app_url, pool_size=1))
        try:
            async with db.unit_of_work() as uow:
                await uow.session.execute(text("create temp table probe (n int)"))
            with contextlib.suppress(RuntimeError):
                async with db.unit_of_work(uuid.uuid4()) as uow:
                    await uow.session.execute(text("insert into probe values (1)"))
                    raise RuntimeError("the work failed half-way")
            async with db.unit_of_work() as uow:
                rows = (await uow.session.execute(text("select count(*) from probe"))).scalar()
                tenant = (
                    await uow.session.execute(text("select current_setting('app.tenant_id')"))
                ).scalar()
                status = (
                    await uow.session.execute(
                        text("select current_setting('transaction_read_only')")
                    )
                ).scalar()
            return int(rows or 0), str(tenant), str(status)
        finally:
            await db.dispose()

    rows, tenant, read_only = run_async(scenario)
    assert rows == 0
    assert tenant == ""
    assert read_only == "off"


def test_the_jobs_a_unit_of_work_queues_go_with_its_commit_in_one_round_trip(
    settings: Settings, migrated: Databases, owner_conn: psycopg.Connection
) -> None:
    """The job rows and COMMIT leave together (UnitOfWork.finish_with), and they commit with
    the unit's own writes."""
    queue = f"trip-{uuid.uuid4().hex[:10]}"

    async def scenario() -> tuple[list[str], str]:
        job_app, resources = jobs.build_job_app(settings)
        db = Database(create_engine(migrated.app_url, pool_size=1))
        try:
            async with work.unit_of_work(db, job_app, uuid.uuid4()):
                pass  # a warm connection, as a worker's
            traced = Traced(db)
            async with work.unit_of_work(db, job_app, uuid.uuid4()) as uow:
                await uow.session.execute(text("create temp table wrote (n int)"))
                await uow.session.execute(text("insert into wrote values (1)"))
                transaction = (
                    await uow.session.execute(text("select txid_current()::text"))
                ).scalar_one()
                for n in range(2):
                    uow.defer_job(
                        "send_email", to=f"{queue}-{n}@example.co.za", subject="", body=""
                    )
            return traced.sent(), str(transaction)
        finally:
            await db.dispose()
            await resources.close()

    sent, transaction = run_async(scenario)
    assert "INSERT INTO procrastinate_jobs" in sent[-1] and '"COMMIT"' in sent[-1]
    assert not any("COMMIT" in trip for trip in sent[:-1])
    assert len(sent) == 5  # the begin, the unit's three statements, the jobs with the commit
    rows = owner_conn.execute(
        "select xmin::text from procrastinate_jobs where args->>'to' like %s", (f"{queue}-%",)
    ).fetchall()
    assert rows == [(transaction,), (transaction,)]
    owner_conn.execute("delete from procrastinate_jobs where args->>'to' like %s", (f"{queue}-%",))
