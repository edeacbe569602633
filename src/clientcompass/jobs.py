"""Background jobs on procrastinate (PostgreSQL-backed): deferred by name, after commit.

A job takes ids and plain values, never ORM objects, and opens its own unit of work. Each
process builds its own job app from its settings (no module-level state), so tests can run
several apps side by side.
"""

from __future__ import annotations

import gc
from typing import Any

import procrastinate
import structlog

from clientcompass import events
from clientcompass.config import Settings
from clientcompass.contacts import consent as contact_consent
from clientcompass.contacts import tasks as contacts_tasks
from clientcompass.conversations import tasks as conversations_tasks
from clientcompass.conversations.inbound import Inbound, InboundHandler
from clientcompass.db import (
    Database,
    UnitOfWork,
    create_engine,
    job_queue_pool,
    libpq_url,
    pool_options,
)
from clientcompass.documents import reminder_tasks as document_reminder_tasks
from clientcompass.documents import replies as document_replies
from clientcompass.flows import content as flow_content
from clientcompass.flows import runtime as flow_runtime
from clientcompass.flows import tasks as flow_tasks
from clientcompass.inbox import tasks as inbox_tasks
from clientcompass.integrations import service as integrations_service
from clientcompass.integrations import tasks as integrations_tasks
from clientcompass.leads import events as lead_events
from clientcompass.lifecycle import export_tasks, policy_notice
from clientcompass.lifecycle import tasks as lifecycle_tasks
from clientcompass.mail import send_mail
from clientcompass.notifications import digest as notification_digest
from clientcompass.notifications import email as notification_email
from clientcompass.notifications import push as notification_push
from clientcompass.notifications import tasks as notification_tasks
from clientcompass.whatsapp import media, template_tasks
from clientcompass.whatsapp import tasks as whatsapp_tasks
from clientcompass.work import LazyResources
from clientcompass.worker_loop import ResilientWorker, retry_through_outages

log = structlog.get_logger(__name__)

EMAIL_RETRY = procrastinate.RetryStrategy(max_attempts=5, wait=30)
STALLED_TASK = "jobs.retry_stalled"


def build_job_app(settings: Settings) -> tuple[procrastinate.App, LazyResources]:
    """The job app for this process (its connector and every task bound to `settings`),
    and the resources its tasks use, to be closed when the process is done."""
    url = settings.app_database_url()
    # Room for every running job to defer a follow-up while the loop fetches, beats and
    # listens: a checkout waits at most BACKGROUND_POOL_TIMEOUT_SECONDS (db.py), so it must rarely wait.
    connector = procrastinate.PsycopgConnector(
        conninfo=libpq_url(url),
        min_size=2,
        max_size=settings.worker_concurrency + 4,
        pool_factory=job_queue_pool,
        **pool_options(url),
    )
    job_app = procrastinate.App(connector=connector)
    resources = LazyResources(settings, job_app)

    @job_app.task(name="send_email", retry=EMAIL_RETRY)
    async def send_email(
        to: str,
        subject: str,
        body: str,
        html: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        await send_mail(settings, to=to, subject=subject, body=body, html=html, headers=headers)

    @job_app.periodic(cron="* * * * *", periodic_id="retry-stalled-jobs")
    @job_app.task(name=STALLED_TASK, queueing_lock=STALLED_TASK)
    async def retry_stalled(timestamp: int) -> None:
        await retry_stalled_jobs(job_app, settings)

    whatsapp_tasks.register(job_app, resources)
    template_tasks.register(job_app, resources)
    contacts_tasks.register(job_app, resources)
    inbox_tasks.register(job_app, resources)
    flow_tasks.register(job_app, resources)
    flow_content.register(job_app, resources)
    conversations_tasks.register(
        job_app, resources, (*INBOUND_HANDLERS, notification_tasks.on_inbound(resources))
    )
    document_reminder_tasks.register(job_app, resources)
    events.register(
        job_app,
        resources,
        (
            notification_tasks.on_event(resources),
            lead_events.on_event,
            integrations_service.on_event,
        ),
    )
    integrations_tasks.register(job_app, resources)
    notification_push.register(job_app, resources)
    notification_email.register(job_app, resources)
    notification_digest.register(job_app, resources)
    lifecycle_tasks.register(job_app, resources)
    policy_notice.register(job_app, resources)
    export_tasks.register(job_app, resources)
    # Last, so it covers every task registered above: a job that met an outage runs again.
    retry_through_outages(job_app)
    return job_app, resources


async def _fetch_media(uow: UnitOfWork, inbound: Inbound) -> None:
    # The webhook stores a file row for each item of `message.media`, in the same statement:
    # a text-only message (most of them) has none to look for.
    if inbound.message.media:
        await media.defer_fetches(uow, inbound.message.id)


async def _answer_quote(uow: UnitOfWork, inbound: Inbound) -> None:
    await document_replies.on_inbound(uow, inbound)


# What happens after every inbound message, once (conversations/inbound.py): each domain's
# handler, wired here so the transport and the domains never import one another.
# The notifications' handler needs the process's resources (Redis), so it joins these in
# `build_job_app`.
INBOUND_HANDLERS: tuple[InboundHandler, ...] = (
    _fetch_media,
    _answer_quote,
    contact_consent.on_inbound,  # before flows: a STOP is never taken for an answer
    flow_runtime.on_inbound,  # before notifications: a handoff is told with the message
)


async def retry_stalled_jobs(job_app: procrastinate.App, settings: Settings) -> int:
    """Put back in the queue the jobs of workers that died mid-job (no heartbeat for
    WORKER_STALLED_AFTER_SECONDS); each job's own idempotence makes the second run safe.
    Run every minute and when a worker starts."""
    stalled = list(
        await job_app.job_manager.get_stalled_jobs(
            seconds_since_heartbeat=settings.worker_stalled_after_seconds
        )
    )
    for job in stalled:
        await job_app.job_manager.retry_job(job)
    if stalled:
        log.warning("retried the jobs of a worker that died", count=len(stalled))
    return len(stalled)


async def any_due(job_app: procrastinate.App) -> bool:
    """Whether a job is waiting to run now (not one scheduled for later, like a retry)."""
    row = await job_app.connector.execute_query_one_async(
        "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE status = 'todo' "
        "AND (scheduled_at IS NULL OR scheduled_at <= now())) AS due"
    )
    return bool(row["due"])


async def run_worker(settings: Settings, *, once_rounds: int = 0) -> None:
    """`clientcompass worker`: run jobs until SIGINT/SIGTERM, riding out database and Redis
    outages in the same process (worker_loop.py). With `once_rounds`, run what is due now and
    the jobs those defer, at most that many rounds, then return (`worker --once`)."""
    db = Database(create_engine(settings.app_database_url(), pool_size=1))
    try:
        await db.assert_cannot_bypass_rls()
    finally:
        await db.dispose()
    job_app, resources = build_job_app(settings)

    async def repair() -> None:
        # A crash is repaired on restart, not a minute later: the stalled jobs of a dead
        # worker go back in the queue, and stuck sends are swept.
        await retry_stalled_jobs(job_app, settings)
        await whatsapp_tasks.sweep_outbox_now(resources)

    stalled_after = settings.worker_stalled_after_seconds
    options: dict[str, Any] = {
        "concurrency": settings.worker_concurrency,
        "update_heartbeat_interval": stalled_after / 3,
        "stalled_worker_timeout": stalled_after,
    }
    async with job_app.open_async():
        try:
            await repair()
            if not once_rounds:
                # As the web process does (app.py): what start-up built, the resources the
                # repair opened included, lives as long as the process, so the collector's
                # full passes skip it. Unfrozen, one full pass took 0.15 s of a worker's CPU
                # in bench/notify's burst of 100 messages; frozen, 0.02 s.
                gc.freeze()
                await ResilientWorker(job_app, options, on_resume=repair).run()
                return
            for _ in range(once_rounds):
                await job_app.run_worker_async(**options, wait=False, install_signal_handlers=False)
                # A job's follow-up jobs (an inbound message's media downloads) are part of
                # "the queued jobs": run again while any is due now.
                if not await any_due(job_app):
                    break
        finally:
            await resources.close()
