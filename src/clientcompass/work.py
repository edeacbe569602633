"""The unit of work as the app uses it: jobs written inside its transaction, live events
published after its commit; and the resources jobs run with.

Tasks reach the database, Redis and Twilio through `Resources`, created on first use in the
process that runs them (the worker), never at import time.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import procrastinate
from redis.asyncio import Redis

from clientcompass.config import Settings
from clientcompass.crypto import Keyring
from clientcompass.db import Database, FastPath, QueuedJob, UnitOfWork, create_engine
from clientcompass.realtime.bus import DURABLE, EVENT_TASK, Announcer, Event, Publisher
from clientcompass.redis import create_redis
from clientcompass.twilio_client import TwilioClient, twilio_client

# What acts on a durable event (bus.DURABLE), in the event job's unit of work: given the
# event, its data, and an id that stays the same when the job runs again. Wired in jobs.py.
EventHandler = Callable[[UnitOfWork, Event, dict[str, Any], str], Awaitable[None]]

# Opens a unit of work for a tenant: `AppState.unit_of_work` or `Resources.unit_of_work`. A
# flow that calls an outside service takes this instead of a unit of work, so it can read,
# release the connection, call, and then write the outcome in a second transaction.
OUTSIDE_TIMEOUT_SECONDS = 10.0

# Web push connections kept per process: enough for a burst's pushes side by side to a few
# push services (FCM, Mozilla, Apple), few enough that a dead one can't use up file descriptors.
PUSH_MAX_CONNECTIONS = 100


def push_client() -> aiohttp.ClientSession:
    """The process's web push connection pool (created inside the running event loop)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=PUSH_MAX_CONNECTIONS, keepalive_timeout=60),
        timeout=aiohttp.ClientTimeout(total=OUTSIDE_TIMEOUT_SECONDS, connect=5.0),
        cookie_jar=aiohttp.DummyCookieJar(),  # a push service sets none worth keeping
    )


UnitsOfWork = Callable[[uuid.UUID | None], AbstractAsyncContextManager[UnitOfWork]]


@dataclass
class Resources:
    settings: Settings
    db: Database
    redis: Redis
    keyring: Keyring
    twilio: TwilioClient
    job_app: procrastinate.App
    announcer: Announcer
    # For outside services other than Twilio (outgoing webhooks, a flow's webhook step): one
    # pool of connections per process.
    http: httpx.AsyncClient
    # Web push's own pool (notifications/push.py says why it is not httpx).
    push_http: aiohttp.ClientSession
    # Plain psycopg, for the one-statement calls of the hottest jobs (a push's devices).
    fast: FastPath

    @asynccontextmanager
    async def unit_of_work(self, tenant_id: uuid.UUID | None = None) -> AsyncIterator[UnitOfWork]:
        async with unit_of_work(self.db, self.job_app, tenant_id, publisher=self.announcer) as uow:
            yield uow


class LazyResources:
    """Builds `Resources` once, on the first job that needs them."""

    def __init__(self, settings: Settings, job_app: procrastinate.App) -> None:
        self.settings = settings
        self.job_app = job_app
        self._resources: Resources | None = None

    async def get(self) -> Resources:
        if self._resources is None:
            settings = self.settings.ensure_secrets()
            redis = create_redis(settings.redis_url)
            fast = FastPath(settings.app_database_url(), max_size=settings.worker_concurrency)
            await fast.open()
            self._resources = Resources(
                settings=settings,
                db=Database(
                    create_engine(
                        settings.app_database_url(), pool_size=settings.worker_concurrency
                    )
                ),
                redis=redis,
                keyring=Keyring(settings.encryption_keys),
                twilio=twilio_client(settings),
                job_app=self.job_app,
                announcer=Announcer(redis),
                http=httpx.AsyncClient(
                    timeout=httpx.Timeout(OUTSIDE_TIMEOUT_SECONDS, connect=5.0),
                    limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                ),
                push_http=push_client(),
                fast=fast,
            )
        return self._resources

    async def close(self) -> None:
        if self._resources is not None:
            await self._resources.announcer.close()
            await self._resources.twilio.http.aclose()
            await self._resources.http.aclose()
            await self._resources.push_http.close()
            await self._resources.fast.close()
            await self._resources.redis.aclose()
            await self._resources.db.dispose()
            self._resources = None


async def defer(
    job_app: procrastinate.App,
    name: str,
    kwargs: dict[str, Any],
    *,
    schedule_in: float = 0,
    lock: str | None = None,
) -> None:
    """Defer a job on its own connection: for a job whose work is not tied to a transaction
    (a retry, a reconcile), or what a sweeper re-finds if it is lost."""
    task = job_app.configure_task(
        name, schedule_in={"seconds": schedule_in} if schedule_in else None, lock=lock
    )
    await task.defer_async(**kwargs)


# procrastinate's own defer (procrastinate_defer_jobs_v1) inserts the same row; a job already
# queued under the same queueing lock is enough, so a conflict must not abort the transaction.
# Sent with the unit's COMMIT (UnitOfWork.finish_with): one round trip for both.
INSERT_JOB = (
    b"INSERT INTO procrastinate_jobs "
    b"(queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at) "
    b"VALUES (%(queue)s, %(task)s, %(priority)s, %(lock)s, %(queueing_lock)s, "
    b"%(args)s::jsonb, %(at)s) "
    b"ON CONFLICT DO NOTHING"
)


def job_row(job_app: procrastinate.App, queued: QueuedJob) -> dict[str, object]:
    """The queue row for a job, configured as its task is registered (queue, lock, priority)."""
    job = job_app.configure_task(
        queued.task_name,
        schedule_in={"seconds": queued.schedule_in} if queued.schedule_in else None,
    ).job
    return {
        "queue": job.queue,
        "task": job.task_name,
        "priority": job.priority,
        "lock": queued.lock or job.lock,
        "queueing_lock": job.queueing_lock,
        "args": json.dumps(queued.kwargs),
        "at": job.scheduled_at,
    }


@asynccontextmanager
async def unit_of_work(
    db: Database,
    job_app: procrastinate.App,
    tenant_id: uuid.UUID | None = None,
    *,
    publisher: Publisher | None = None,
) -> AsyncIterator[UnitOfWork]:
    """A transaction whose queued jobs are written into it, so they commit or vanish with the
    data; its live events go to `publisher` after the commit (None: a one-off command that no
    open tab listens to, and its events are dropped). An event something must act on
    (`bus.DURABLE`) also becomes a job here, whether or not anyone listens live."""
    async with db.unit_of_work(tenant_id) as uow:
        yield uow
        for tenant, event, data in uow.announcements:
            if event in DURABLE:
                kwargs = {
                    "tenant_id": str(tenant),
                    "event": event.value,
                    "data": data,
                    "event_id": str(uuid.uuid4()),  # stable across the job's retries
                }
                uow.jobs.append(QueuedJob(EVENT_TASK, json.loads(json.dumps(kwargs, default=str))))
        if uow.jobs:
            await uow.finish_with(INSERT_JOB, [job_row(job_app, job) for job in uow.jobs])
            uow.jobs.clear()
        announcements = list(uow.announcements)
        uow.announcements.clear()
    if publisher is not None:
        for tenant, event, data in announcements:
            publisher.announce(tenant, event, **data)
