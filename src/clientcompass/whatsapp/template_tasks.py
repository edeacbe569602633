"""The periodic template sync: WhatsApp decides on templates hours after they are submitted,
and may pause or disable approved ones later, so every five minutes the worker asks Twilio
about templates that are waiting for a verdict or have not been checked for a while.

Finding those templates crosses tenants, so it goes through one narrow SECURITY DEFINER
function, `cc_templates_pending(p_limit)`, that returns ids only; each template is then
synced in a unit of work scoped to its own tenant.
"""

from __future__ import annotations

import uuid

import procrastinate
import structlog
from sqlalchemy import text

from clientcompass.errors import DomainError
from clientcompass.whatsapp import templates
from clientcompass.work import LazyResources

log = structlog.get_logger(__name__)

SYNC_TASK = "whatsapp.sync_templates"
PENDING_FUNCTION = "cc_templates_pending(integer)"
BATCH = 200


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.periodic(cron="*/5 * * * *", periodic_id="whatsapp-templates-sync")
    @job_app.task(name=SYNC_TASK, queue="whatsapp", queueing_lock="whatsapp-templates-sync")
    async def sync_templates(timestamp: int) -> None:
        await sync_pending(lazy)


async def sync_pending(lazy: LazyResources) -> int:
    """Sync the templates `cc_templates_pending` names; returns how many were synced.

    Until the migration that adds the function has run, this logs and does nothing, so a
    worker on an older schema keeps working (templates then sync through 'Sync now').
    """
    resources = await lazy.get()
    async with resources.db.unit_of_work() as uow:
        available = await uow.session.scalar(
            text("select to_regprocedure(:name) is not null"), {"name": PENDING_FUNCTION}
        )
        if not available:
            log.warning("template sync skipped: the database has no cc_templates_pending()")
            return 0
        rows = (
            await uow.session.execute(
                text("select tenant_id, template_id from cc_templates_pending(:limit)"),
                {"limit": BATCH},
            )
        ).all()
    synced = 0
    for tenant_id, template_id in rows:
        if await _sync_one(lazy, tenant_id, template_id):
            synced += 1
    if rows:
        log.info("templates synced", listed=len(rows), synced=synced)
    return synced


async def _sync_one(lazy: LazyResources, tenant_id: uuid.UUID, template_id: uuid.UUID) -> bool:
    """One template in its own transactions, so one failure rolls back only itself."""
    resources = await lazy.get()
    try:
        found = await templates.sync_one(
            resources.unit_of_work, resources.keyring, resources.twilio, tenant_id, template_id
        )
    except DomainError as exc:
        log.warning("template sync failed", template_id=str(template_id), error=exc.message)
        return False
    return found is not None
