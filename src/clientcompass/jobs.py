"""Background jobs on procrastinate (PostgreSQL-backed): deferred by name, after commit.

A job takes ids and plain values, never ORM objects, and opens its own unit of work. Each
process builds its own job app from its settings (no module-level state), so tests can run
several apps side by side.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import procrastinate

from clientcompass.config import Settings
from clientcompass.db import Database, UnitOfWork, libpq_url
from clientcompass.mail import send_mail

EMAIL_RETRY = procrastinate.RetryStrategy(max_attempts=5, wait=30)


def build_job_app(settings: Settings) -> procrastinate.App:
    """The job app for this process: its connector, and every task bound to `settings`."""
    job_app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(settings.app_database_url()))
    )

    @job_app.task(name="send_email", retry=EMAIL_RETRY)
    async def send_email(to: str, subject: str, body: str) -> None:
        await send_mail(settings, to=to, subject=subject, body=body)

    return job_app


async def defer(job_app: procrastinate.App, name: str, kwargs: dict[str, Any]) -> None:
    await job_app.configure_task(name).defer_async(**kwargs)


@asynccontextmanager
async def unit_of_work(
    db: Database, job_app: procrastinate.App, tenant_id: uuid.UUID | None = None
) -> AsyncIterator[UnitOfWork]:
    """A transaction that commits on success, then defers the jobs it queued (none on rollback)."""
    async with db.unit_of_work(tenant_id) as uow:
        yield uow
    for name, kwargs in uow.jobs_after_commit:
        await defer(job_app, name, kwargs)
