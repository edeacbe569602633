"""The reminders' schedule as jobs: every hour, one run per business that has reminders on.

Finding those businesses crosses tenants, so the hourly scan goes through one narrow
SECURITY DEFINER function, `cc_reminder_tenants()`, that returns tenant ids only; each
business's run is its own job (a procrastinate queueing lock keeps it to one waiting run per
business) in a unit of work scoped to it. Saving the settings with reminders on books a first
run straight away. Running twice is harmless: each reminder's slot is claimed once
(reminders.py).
"""

from __future__ import annotations

import uuid

import procrastinate
import structlog
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import text

from clientcompass.documents import reminders
from clientcompass.documents import settings as document_settings
from clientcompass.work import LazyResources

log = structlog.get_logger(__name__)

REMINDERS_TASK = "documents.send_reminders"
SCAN_TASK = "documents.schedule_reminders"
REMINDER_TENANTS = text("select tenant_id from cc_reminder_tenants()")
QUEUE = "documents"


def lock_for(tenant_id: uuid.UUID) -> str:
    return f"documents-reminders-{tenant_id}"


async def book(job_app: procrastinate.App, tenant_id: uuid.UUID) -> bool:
    """Book a scheduled run for the business; False when one is waiting already."""
    task = job_app.configure_task(REMINDERS_TASK, queueing_lock=lock_for(tenant_id))
    try:
        await task.defer_async(tenant_id=str(tenant_id), manual=False)
    except AlreadyEnqueued:
        return False
    return True


async def run_now(job_app: procrastinate.App, tenant_id: uuid.UUID) -> None:
    """A run a person asked for ("Send due reminders now"): any hour, outside the schedule."""
    await job_app.configure_task(REMINDERS_TASK).defer_async(tenant_id=str(tenant_id), manual=True)


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.periodic(cron="5 * * * *", periodic_id="documents-reminders")
    @job_app.task(name=SCAN_TASK, queue=QUEUE, queueing_lock="documents-reminders-scan")
    async def schedule_reminders(timestamp: int) -> None:
        await schedule_all(lazy)

    @job_app.task(name=REMINDERS_TASK, queue=QUEUE)
    async def send_reminders(tenant_id: str, manual: bool = False) -> None:
        await run(lazy, uuid.UUID(tenant_id), manual=manual)


async def schedule_all(lazy: LazyResources) -> int:
    """Book a run for every business with reminders on; returns how many were booked."""
    resources = await lazy.get()
    async with resources.db.unit_of_work() as uow:
        tenants = list(await uow.session.scalars(REMINDER_TENANTS))
    booked = 0
    for tenant_id in tenants:
        booked += await book(resources.job_app, tenant_id)
    return booked


async def run(lazy: LazyResources, tenant_id: uuid.UUID, *, manual: bool) -> reminders.RunReport:
    """One business's run: queue today's reminders (a scheduled run only while they are on)."""
    resources = await lazy.get()
    if not manual:
        async with resources.unit_of_work(tenant_id) as uow:
            still_on = (await document_settings.load_reminders(uow)).enabled
        if not still_on:
            return reminders.RunReport(waiting="Reminders are off.")
    async with resources.unit_of_work(tenant_id) as uow:
        report = await reminders.send_due_reminders(uow, resources.settings, any_hour=manual)
    if report.queued or report.skipped:
        log.info(
            "reminders run",
            tenant_id=str(tenant_id),
            queued=len(report.queued),
            skipped=len(report.skipped),
        )
    return report
