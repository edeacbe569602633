"""The snooze alarm: every minute, reopen conversations whose snooze has run out.

It crosses tenants only through `cc_snoozes_due` (ids, as the owner), then wakes each
conversation in its own tenant-scoped transaction, announcing it like any other change.
"""

from __future__ import annotations

import uuid

import procrastinate
import structlog
from sqlalchemy import text

from clientcompass.inbox import service
from clientcompass.work import LazyResources

log = structlog.get_logger(__name__)

WAKE_TASK = "inbox.wake_snoozed"
BATCH = 500


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.periodic(cron="* * * * *", periodic_id="inbox-wake-snoozed")
    @job_app.task(name=WAKE_TASK, queue="inbox", queueing_lock="inbox-wake-snoozed")
    async def wake_snoozed(timestamp: int) -> None:
        await wake_due(lazy)


async def wake_due(lazy: LazyResources) -> int:
    """Reopen every conversation whose snooze has run out; returns how many woke."""
    resources = await lazy.get()
    async with resources.db.unit_of_work() as uow:
        rows = (
            await uow.session.execute(
                text("select tenant_id, conversation_id from cc_snoozes_due(:now, :limit)"),
                {"now": uow.now, "limit": BATCH},
            )
        ).all()
    woken = 0
    for tenant_id, conversation_id in rows:
        if await _wake_one(lazy, tenant_id, conversation_id):
            woken += 1
    if rows:
        log.info("snoozed conversations reopened", due=len(rows), woken=woken)
    return woken


async def _wake_one(lazy: LazyResources, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> bool:
    resources = await lazy.get()
    async with resources.unit_of_work(tenant_id) as uow:
        return await service.wake(uow, conversation_id)
