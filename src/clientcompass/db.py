"""Engines and the unit of work: one transaction, its tenant set with `set_config(…, true)`."""

from __future__ import annotations

import select
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from procrastinate.exceptions import ConnectorException
from psycopg import AsyncConnection
from psycopg.pq import ConnStatus
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from clientcompass.errors import ConfigurationError
from clientcompass.models.base import utcnow
from clientcompass.realtime.bus import Event


def sqlalchemy_url(url: str) -> str:
    """Point a libpq URL at SQLAlchemy's psycopg 3 dialect."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(f"not a database URL: {scheme[:20]}…")
    return f"postgresql+psycopg://{rest}"


def libpq_url(url: str) -> str:
    """The inverse of `sqlalchemy_url`, for psycopg and procrastinate."""
    return "postgresql://" + url.partition("://")[2]


# An outage must cost a request seconds, not a hang: a connection attempt gives up after
# CONNECT_TIMEOUT_SECONDS (libpq's floor is 2; a `connect_timeout` in the URL wins), and a
# request waits at most POOL_TIMEOUT_SECONDS for a pooled connection, then gets a 503.
# SQLAlchemy's pool connects in the request (an outage fails at connect), so its wait only
# ever covers a busy pool: long enough for a burst (50 concurrent finalisations) to queue.
# A psycopg pool (webhooks' FastPath, the job queue) reconnects in the background while the
# request waits for it, so during an outage the request waits this whole bound: short, so
# Twilio gets its 503 quickly.
CONNECT_TIMEOUT_SECONDS = 2
POOL_TIMEOUT_SECONDS = 5.0
BACKGROUND_POOL_TIMEOUT_SECONDS = 2.5
# A psycopg pool retries a lost connection with a backoff that doubles without a cap (1, 2,
# 4, 8, 16 s…), so after a long outage it could take as long again to notice the server is
# back. Giving each retry chain up after this long means the next request starts a fresh one,
# whose first attempt is immediate.
RECONNECT_TIMEOUT_SECONDS = 5.0
# SQLSTATEs that mean "the server is going, gone or full", not "your statement failed".
OUTAGE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# What a database outage surfaces as, for exception handlers keyed by type.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.DBAPIError,
    sa_exc.TimeoutError,
    psycopg.Error,
    ConnectorException,
)


def connect_options(url: str) -> dict[str, object]:
    """libpq options every connection gets unless the URL sets them itself."""
    query = parse_qs(urlsplit(url).query)
    return {} if "connect_timeout" in query else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}


def pool_options(url: str) -> dict[str, Any]:
    """psycopg_pool arguments for a pool that rides out an outage (FastPath, the job queue)."""
    return {
        "timeout": BACKGROUND_POOL_TIMEOUT_SECONDS,
        "reconnect_timeout": RECONNECT_TIMEOUT_SECONDS,
        "kwargs": connect_options(url),
    }


def connection_lost(conn: AsyncConnection[Any]) -> bool:
    """Whether an idle pooled connection's server has gone (restarted, shut down, crashed).

    A zero-timeout `select` instead of a round trip: an idle connection is sent nothing
    unasked, so anything waiting on its socket is the server's goodbye (a FATAL message, then
    EOF). Measured here: about 3 µs, where a ping (SQLAlchemy's pool_pre_ping `SELECT 1`, or
    psycopg_pool's `check_connection`) costs a round trip, 85-350 µs, on every request. A
    server that vanished without a word is not seen here; that request fails, answers 503,
    and the pool drops the connection.
    """
    pgconn = conn.pgconn
    if pgconn.status != ConnStatus.OK:
        return True
    try:
        readable, _, _ = select.select([pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return True
    return bool(readable)


async def check_pooled(conn: AsyncConnection[Any]) -> None:
    """psycopg_pool's `check`: refuse a dead connection, so the pool opens a fresh one.
    Closed first: the pool keeps a refused connection that still looks open."""
    if connection_lost(conn):
        await conn.close()
        raise psycopg.OperationalError("the server closed this pooled connection")


def _check_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """SQLAlchemy's pessimistic disconnect handling, without pool_pre_ping's round trip.
    A dead connection means the server restarted: every older pooled one is dead too."""
    if connection_lost(dbapi_connection.driver_connection):
        raise sa_exc.InvalidatePoolError("the server closed this pooled connection")


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """The app's engine. Its connections autocommit at the driver: `Database.transaction`
    begins each transaction itself, its tenant set in the same round trip."""
    engine = create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args=connect_options(url),
        isolation_level="AUTOCOMMIT",
    )
    event.listen(engine.sync_engine.pool, "checkout", _check_on_checkout)
    return engine


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and what caused it (wrapped driver errors), each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means PostgreSQL cannot be reached (down, restarting, full), as opposed
    to a statement that failed: the first is a 503 and a retry, the second a bug or a 4xx."""
    for error in _chain(exc):
        if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
            return True
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, psycopg.Error):
            if error.sqlstate is None:  # client side: refused, closed, timed out, pool timeout
                return isinstance(error, psycopg.OperationalError)
            return error.sqlstate.startswith("08") or error.sqlstate in OUTAGE_SQLSTATES
    return False


@dataclass(frozen=True)
class QueuedJob:
    task_name: str
    kwargs: dict[str, object]
    schedule_in: float = 0
    # procrastinate's lock: jobs sharing one run one at a time, in the order they were queued.
    lock: str | None = None


class UnitOfWork:
    """One transaction, scoped to one tenant (or none). Services flush; only this commits."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.now: datetime = utcnow()
        self.jobs: list[QueuedJob] = []
        self.announcements: list[tuple[uuid.UUID, Event, dict[str, Any]]] = []

    async def set_tenant(self, tenant_id: uuid.UUID) -> None:
        """Scope the rest of this transaction to a tenant (e.g. right after sign-up or login)."""
        await self.session.execute(
            text("select set_config('app.tenant_id', :tenant_id, true)"),
            {"tenant_id": str(tenant_id)},
        )
        self.tenant_id = tenant_id

    def defer_job(
        self,
        task_name: str,
        *,
        schedule_in: float = 0,
        lock: str | None = None,
        **kwargs: object,
    ) -> None:
        """Queue a job by name. It is written into the job queue inside this transaction, so
        it exists exactly when the data it acts on does: a crash can lose neither alone.
        Jobs given one `lock` run one at a time, in the order they were queued."""
        self.jobs.append(QueuedJob(task_name, kwargs, schedule_in, lock))

    async def finish_with(self, statement: bytes, rows: list[dict[str, Any]]) -> None:
        """Run `statement` (psycopg's %(name)s placeholders) for each row as this unit's last
        statement, and commit it with them in one round trip (psycopg's pipeline mode).

        Only at the very end of the unit: the transaction is committed here, and the unit's
        own COMMIT then finds nothing to do. Anything the ORM holds is flushed first, so it
        commits too. A failure raises, and the unit rolls back as for any other."""
        await self.session.flush()
        connection = await self.session.connection()
        driver = driver_of(await connection.get_raw_connection())
        # COMMIT as a statement of the pipeline, not `driver.commit()`: that syncs on its own,
        # and leaving the pipeline syncs again, a second round trip.
        async with driver.pipeline(), driver.cursor() as cursor:
            await cursor.executemany(statement, rows)
            await cursor.execute(b"COMMIT")

    def announce(self, event: Event, **data: Any) -> None:
        """Publish a live event to this tenant's open tabs once this transaction commits
        (a rollback announces nothing)."""
        assert self.tenant_id is not None, "a live event belongs to a tenant"
        self.announcements.append((self.tenant_id, event, data))


def job_queue_pool(**arguments: Any) -> AsyncConnectionPool[Any]:
    """procrastinate's pool (its `pool_factory`), two round trips lighter per queue call.

    procrastinate sends one statement per checkout (fetch a job, finish it, defer one), yet
    its default pool wraps each in BEGIN…COMMIT and pings the server first with
    `check_connection`: four round trips where one does. Here the connections autocommit,
    which changes nothing for a single statement, and the check is `check_pooled`'s local
    look at the socket. bench/notify's burst of 100 messages: p95 from webhook to push
    2.1-2.4 s before, about 1.5 s after (with the worker's gc.freeze, jobs.run_worker).
    """
    arguments["check"] = check_pooled
    # Set on each new connection, not in `kwargs`: procrastinate's listener connects with the
    # pool's kwargs plus its own autocommit=True.
    arguments["configure"] = _autocommit
    return AsyncConnectionPool(**arguments)


async def _autocommit(conn: AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


class FastPath:
    """A plain psycopg pool for the hottest paths (Twilio webhooks, a push job's two calls),
    where SQLAlchemy's session machinery costs more than the SQL itself (measured:
    bench/webhook_ingest, bench/notify). Same role, same rule: one transaction, its tenant set
    with `set_config(…, true)`."""

    def __init__(self, url: str, *, max_size: int = 10) -> None:
        options = pool_options(url)
        options["kwargs"] = {"autocommit": True, **options["kwargs"]}
        self.pool = AsyncConnectionPool(
            libpq_url(url),
            min_size=2,
            max_size=max_size,
            open=False,
            check=check_pooled,
            **options,
        )

    async def open(self) -> None:
        await self.pool.open()

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[TupleRow]]:
        async with self.pool.connection() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncConnection[TupleRow]]:
        """An autocommit connection: each statement is its own transaction (one round trip).
        Only for a statement that scopes itself to its tenant, like `cc_record_inbound`."""
        async with self.pool.connection() as conn:
            yield conn


async def set_tenant(conn: AsyncConnection[TupleRow], tenant_id: uuid.UUID) -> None:
    await conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant_id),))


READ_WRITE = "BEGIN"
SNAPSHOT = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"


def driver_of(connection: Any) -> AsyncConnection[Any]:
    """The psycopg connection under a SQLAlchemy one (its `get_raw_connection()`)."""
    driver = connection.driver_connection
    assert isinstance(driver, AsyncConnection)
    return driver


class Database:
    """The app's connection to PostgreSQL as its non-owner role."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=True)

    @asynccontextmanager
    async def transaction(
        self, tenant_id: uuid.UUID | None = None, *, begin: str = READ_WRITE
    ) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, begun and scoped to its tenant in one round trip.

        A driver in transaction mode sends BEGIN on its own before the first statement and
        waits for it, then `set_config` is a second round trip: for every job and every page.
        The engine's connections autocommit instead, and this sends both in one simple query
        (the tenant is a UUID, so it is written into the text safely). COMMIT and ROLLBACK
        are psycopg's, which sends them whenever the server is in a transaction. One round
        trip fewer for each unit of work (bench/notify)."""
        async with self.sessions() as session, session.begin():
            connection = await session.connection()
            statement = begin
            if tenant_id is not None:
                tenant = uuid.UUID(str(tenant_id))  # never anything but a UUID in the text
                statement += f"; SELECT set_config('app.tenant_id', '{tenant}', true)"
            driver = driver_of(await connection.get_raw_connection())
            await driver.execute(statement.encode(), prepare=False)
            yield session

    @asynccontextmanager
    async def unit_of_work(self, tenant_id: uuid.UUID | None = None) -> AsyncIterator[UnitOfWork]:
        async with self.transaction(tenant_id) as session:
            uow = UnitOfWork(session, tenant_id)
            yield uow
            if uow.jobs or uow.announcements:
                raise RuntimeError(
                    "jobs or live events were queued in a bare unit of work; "
                    "use work.unit_of_work, which writes and publishes them"
                )

    async def assert_cannot_bypass_rls(self) -> None:
        """Refuse to run as a role that RLS does not bind: the wall would be paper."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "select current_user, rolsuper, rolbypassrls from pg_roles "
                        "where rolname = current_user"
                    )
                )
            ).one()
        if row.rolsuper or row.rolbypassrls:
            raise ConfigurationError(
                f"database role {row.current_user!r} can bypass row-level security; "
                "run the app as the non-owner role (DATABASE_APP_URL / DATABASE_APP_ROLE)"
            )

    async def dispose(self) -> None:
        await self.engine.dispose()
