"""Emailing owners before a new privacy policy version takes effect ("prior to the change").

A daily job looks at `policy.UPCOMING`. While a version is announced and not yet in effect,
every open business whose owners have not been told gets one email per owner. The receipt is
a `tenant_settings` row keyed by the version, written in the same transaction as the queued
emails: a second run, a retry or two workers at once never email a business twice, and a
crash before the commit leaves both undone, for the next run. Businesses without a receipt
come from `cc_policy_notice_due()` (migration 0028), ids only; each is then handled in its
own unit of work behind its tenant wall.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import procrastinate
import structlog
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert

from clientcompass.accounts.service import owners_of
from clientcompass.config import Settings
from clientcompass.db import UnitOfWork
from clientcompass.models import TenantSetting
from clientcompass.policy import policy
from clientcompass.work import LazyResources, UnitsOfWork

log = structlog.get_logger(__name__)

BATCH = 500
UPCOMING_PATH = "/privacy/upcoming"
NOTICE_TASK = "policy.change_notices"


def receipt_key(version: str) -> str:
    return f"policy_notice:{version}"


def _email(settings: Settings, announced: policy.Upcoming) -> tuple[str, str]:
    when = announced.effective.strftime("%d %B %Y")
    return (
        f"Our privacy policy changes on {when}",
        (
            f"Hello,\n\n{settings.operator_name} is updating the Client Compass privacy "
            f"policy. The new version takes effect on {when}; until then the current one "
            f"applies.\n\nRead the new version: {settings.base_url}{UPCOMING_PATH}"
            f"\nThe current one: {settings.base_url}/privacy\n\n"
            f"Questions: {settings.operator_email}, {settings.operator_phone}.\n\n"
            "You get this email because you own a business on Client Compass."
        ),
    )


async def _notify(
    uow: UnitOfWork, settings: Settings, tenant_id: uuid.UUID, announced: policy.Upcoming
) -> int:
    """Write the receipt; only if this run wrote it, queue an email per owner."""
    owners = await owners_of(uow, tenant_id)
    written = await uow.session.execute(
        insert(TenantSetting)
        .values(
            tenant_id=tenant_id,
            key=receipt_key(announced.version),
            value={"owners": len(owners), "at": uow.now.isoformat()},
        )
        .on_conflict_do_nothing(index_elements=[TenantSetting.tenant_id, TenantSetting.key])
    )
    if not int(written.rowcount):  # type: ignore[attr-defined]
        return 0
    subject, body = _email(settings, announced)
    for email in owners:
        uow.defer_job("send_email", to=email, subject=subject, body=body)
    return len(owners)


async def send_notices(
    units: UnitsOfWork,
    settings: Settings,
    today: date,
    *,
    announced: policy.Upcoming | None = None,
) -> int:
    """Email the owners of every business not yet told about the upcoming version; returns
    how many emails were queued (0 when nothing is announced or it is already in effect)."""
    found = policy.upcoming(today, announced)
    if found is None:
        return 0
    sent = 0
    while True:
        async with units(None) as uow:
            rows = await uow.session.execute(
                text("SELECT tenant_id FROM cc_policy_notice_due(:key, :limit)"),
                {"key": receipt_key(found.version), "limit": BATCH},
            )
            due = [tenant_id for (tenant_id,) in rows]
        for tenant_id in due:
            async with units(tenant_id) as uow:
                sent += await _notify(uow, settings, tenant_id, found)
        if len(due) < BATCH:
            break
    log.info("policy change notices", version=found.version, emails=sent)
    return sent


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.periodic(cron="10 7 * * *", periodic_id="policy-change-notices")
    @job_app.task(name=NOTICE_TASK, queueing_lock=NOTICE_TASK)
    async def change_notices(timestamp: int) -> None:
        """Daily at 07:10 UTC (09:10 in South Africa), a time people read email."""
        resources = await lazy.get()
        await send_notices(
            resources.unit_of_work,
            resources.settings,
            datetime.fromtimestamp(timestamp, UTC).date(),
        )
