"""The export jobs: build an export's ZIP (lifecycle/export.py), and delete it when its
24-hour link has expired (queued by the build for then, so no sweep across tenants)."""

from __future__ import annotations

import uuid

import procrastinate

from clientcompass.lifecycle import export, export_build
from clientcompass.work import LazyResources


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.task(name=export.BUILD_TASK, queueing_lock=None)
    async def build_export(tenant_id: str, export_id: str) -> None:
        resources = await lazy.get()
        await export_build.build(
            resources.db,
            resources.unit_of_work,
            uuid.UUID(tenant_id),
            uuid.UUID(export_id),
            secret=resources.settings.secret_key,
            base_url=resources.settings.base_url,
        )

    @job_app.task(name=export.EXPIRE_TASK)
    async def expire_export(tenant_id: str, export_id: str) -> None:
        resources = await lazy.get()
        async with resources.unit_of_work(uuid.UUID(tenant_id)) as uow:
            await export.expire(uow, uuid.UUID(export_id))
