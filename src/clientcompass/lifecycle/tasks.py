"""The daily retention job: every rule in lifecycle/retention.py, as of the run's scheduled
time, its counts logged and exported (lifecycle/metrics.py). Idempotent and locked to one
run at a time; a run a crash cut short is finished by the next."""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate
import structlog

from clientcompass.lifecycle import metrics, retention
from clientcompass.work import LazyResources

log = structlog.get_logger(__name__)

RETENTION_TASK = "lifecycle.retention"


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.periodic(cron="40 2 * * *", periodic_id="lifecycle-retention")
    @job_app.task(name=RETENTION_TASK, queueing_lock=RETENTION_TASK)
    async def run_retention(timestamp: int) -> None:
        """Daily at 02:40 UTC (04:40 in South Africa), when the businesses are quiet."""
        resources = await lazy.get()
        outcomes = await retention.run(
            resources.unit_of_work, resources.settings, datetime.fromtimestamp(timestamp, UTC)
        )
        await metrics.record(resources.redis, outcomes, datetime.now(UTC))
        log.info(
            "retention run",
            **{outcome.rule.name: outcome.count for outcome in outcomes},
        )
