"""Units of work that defer jobs after commit, and the resources jobs run with.

Tasks reach the database, Redis and Twilio through `Resources`, created on first use in the
process that runs them (the worker), never at import time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import procrastinate
import structlog
from redis.asyncio import Redis

from clientcompass.config import Settings
from clientcompass.crypto import Keyring
from clientcompass.db import Database, UnitOfWork, create_engine
from clientcompass.redis import create_redis
from clientcompass.whatsapp.twilio import TwilioClient

log = structlog.get_logger(__name__)


@dataclass
class Resources:
    settings: Settings
    db: Database
    redis: Redis
    keyring: Keyring
    twilio: TwilioClient
    job_app: procrastinate.App

    @asynccontextmanager
    async def unit_of_work(self, tenant_id: uuid.UUID | None = None) -> AsyncIterator[UnitOfWork]:
        async with unit_of_work(self.db, self.job_app, tenant_id) as uow:
            yield uow


def twilio_client(settings: Settings) -> TwilioClient:
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.twilio_timeout_seconds, connect=5.0))
    return TwilioClient(
        http,
        api_base_url=settings.twilio_api_base_url,
        content_base_url=settings.twilio_content_base_url,
    )


class LazyResources:
    """Builds `Resources` once, on the first job that needs them."""

    def __init__(self, settings: Settings, job_app: procrastinate.App) -> None:
        self.settings = settings
        self.job_app = job_app
        self._resources: Resources | None = None

    async def get(self) -> Resources:
        if self._resources is None:
            settings = self.settings.ensure_secrets()
            self._resources = Resources(
                settings=settings,
                db=Database(
                    create_engine(
                        settings.app_database_url(), pool_size=settings.worker_concurrency
                    )
                ),
                redis=create_redis(settings.redis_url),
                keyring=Keyring(settings.encryption_keys),
                twilio=twilio_client(settings),
                job_app=self.job_app,
            )
        return self._resources

    async def close(self) -> None:
        if self._resources is not None:
            await self._resources.twilio.http.aclose()
            await self._resources.redis.aclose()
            await self._resources.db.dispose()
            self._resources = None


async def defer(
    job_app: procrastinate.App, name: str, kwargs: dict[str, Any], *, schedule_in: float = 0
) -> None:
    task = job_app.configure_task(
        name, schedule_in={"seconds": schedule_in} if schedule_in else None
    )
    await task.defer_async(**kwargs)


@asynccontextmanager
async def unit_of_work(
    db: Database, job_app: procrastinate.App, tenant_id: uuid.UUID | None = None
) -> AsyncIterator[UnitOfWork]:
    """A transaction that commits on success, then defers the jobs it queued (none on rollback)."""
    async with db.unit_of_work(tenant_id) as uow:
        yield uow
    for name, kwargs in uow.jobs_after_commit:
        await defer(job_app, name, kwargs)
    for callback in uow.callbacks_after_commit:
        try:
            await callback()
        except Exception:  # the data is committed; a lost notification must not fail the request
            log.exception("after-commit callback failed")
