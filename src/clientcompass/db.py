"""Engines and the unit of work: one transaction, its tenant set with `set_config(…, true)`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

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


class UnitOfWork:
    """One transaction, scoped to one tenant (or none). Services flush; only this commits."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID | None) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.now: datetime = utcnow()
        self._after_commit: list[tuple[str, dict[str, object]]] = []
        self._on_commit: list[Callable[[], Awaitable[None]]] = []

    async def set_tenant(self, tenant_id: uuid.UUID) -> None:
        """Scope the rest of this transaction to a tenant (e.g. right after sign-up or login)."""
        await self.session.execute(
            text("select set_config('app.tenant_id', :tenant_id, true)"),
            {"tenant_id": str(tenant_id)},
        )
        self.tenant_id = tenant_id

    def defer_job(self, task_name: str, **kwargs: object) -> None:
        """Queue a job by name to be deferred only if this transaction commits."""
        self._after_commit.append((task_name, kwargs))

    def on_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once this transaction has committed (e.g. publish a real-time event)."""
        self._on_commit.append(callback)

    @property
    def jobs_after_commit(self) -> list[tuple[str, dict[str, object]]]:
        return list(self._after_commit)

    @property
    def callbacks_after_commit(self) -> list[Callable[[], Awaitable[None]]]:
        return list(self._on_commit)


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
