"""Contacts jobs: a large CSV import (see imports.py)."""

from __future__ import annotations

import uuid

import procrastinate

from clientcompass.contacts import imports
from clientcompass.work import LazyResources


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.task(name=imports.IMPORT_TASK, queue="contacts")
    async def import_csv(tenant_id: str, import_id: str) -> None:
        resources = await lazy.get()
        await imports.run_import(resources, uuid.UUID(tenant_id), uuid.UUID(import_id))
