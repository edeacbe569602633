"""Inbound jobs: the follow-up of each stored message, and the sweep for any it missed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import procrastinate
import structlog
from sqlalchemy import text

from clientcompass.conversations import inbound
from clientcompass.work import LazyResources, defer

log = structlog.get_logger(__name__)

SWEEP_AFTER = timedelta(minutes=2)
SWEEP_BATCH = 500


def register(
    job_app: procrastinate.App,
    lazy: LazyResources,
    handlers: Sequence[inbound.InboundHandler],
) -> None:
    @job_app.task(
        name=inbound.INBOUND_TASK,
        queue=inbound.INBOUND_QUEUE,
        retry=procrastinate.RetryStrategy(max_attempts=5, wait=5),
    )
    async def inbound_recorded(tenant_id: str, message_id: str) -> None:
        resources = await lazy.get()
        async with resources.unit_of_work(uuid.UUID(tenant_id)) as uow:
            await inbound.handle(uow, uuid.UUID(message_id), handlers)

    @job_app.periodic(cron="* * * * *", periodic_id="conversations-sweep-inbound")
    @job_app.task(
        name=inbound.SWEEP_TASK,
        queue=inbound.INBOUND_QUEUE,
        queueing_lock="conversations-sweep-inbound",
    )
    async def sweep_inbound(timestamp: int) -> None:
        await sweep(lazy)


async def sweep(lazy: LazyResources, *, older_than: timedelta = SWEEP_AFTER) -> int:
    """Queue the follow-up of stored messages nobody handled (their job was lost); a message
    handled meanwhile is skipped by `inbound.handle`. Returns how many were queued."""
    resources = await lazy.get()
    async with resources.db.unit_of_work() as uow:
        rows = (
            await uow.session.execute(
                text("select tenant_id, message_id from cc_inbound_unhandled(:before, :limit)"),
                {"before": uow.now - older_than, "limit": SWEEP_BATCH},
            )
        ).all()
    for tenant_id, message_id in rows:
        await defer(
            resources.job_app,
            inbound.INBOUND_TASK,
            {"tenant_id": str(tenant_id), "message_id": str(message_id)},
        )
    if rows:
        log.info("inbound sweep queued unhandled messages", count=len(rows))
    return len(rows)
