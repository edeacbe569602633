"""Engines and the unit of work: one transaction, its tenant set with `set_config(…, true)`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import text
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


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
    )


@dataclass(frozen=True)
class QueuedJob:
    task_name: str
    kwargs: dict[str, object]
    schedule_in: float = 0


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

    def defer_job(self, task_name: str, *, schedule_in: float = 0, **kwargs: object) -> None:
        """Queue a job by name. It is written into the job queue inside this transaction, so
        it exists exactly when the data it acts on does: a crash can lose neither alone."""
        self.jobs.append(QueuedJob(task_name, kwargs, schedule_in))

    def announce(self, event: Event, **data: Any) -> None:
        """Publish a live event to this tenant's open tabs once this transaction commits
        (a rollback announces nothing)."""
        assert self.tenant_id is not None, "a live event belongs to a tenant"
        self.announcements.append((self.tenant_id, event, data))


class FastPath:
    """A plain psycopg pool for the hottest path (Twilio webhooks), where SQLAlchemy's session
    machinery costs more than the SQL itself (measured: bench/webhook_ingest). Same role, same
    rule: one transaction, its tenant set with `set_config(…, true)`."""

    def __init__(self, url: str, *, max_size: int = 10) -> None:
        self.pool = AsyncConnectionPool(
            libpq_url(url), min_size=2, max_size=max_size, open=False, kwargs={"autocommit": True}
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


class Database:
    """The app's connection to PostgreSQL as its non-owner role."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=True)

    @asynccontextmanager
    async def unit_of_work(self, tenant_id: uuid.UUID | None = None) -> AsyncIterator[UnitOfWork]:
        async with self.sessions() as session, session.begin():
            uow = UnitOfWork(session, None)
            if tenant_id is not None:
                await uow.set_tenant(tenant_id)
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
