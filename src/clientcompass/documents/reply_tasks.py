"""The job that records a customer's WhatsApp answer to a quote (deferred by the webhook)."""

from __future__ import annotations

import uuid

import procrastinate

from clientcompass.documents import replies
from clientcompass.work import LazyResources


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.task(
        name=replies.ANSWER_TASK,
        queue="documents",
        retry=procrastinate.RetryStrategy(max_attempts=3, wait=5),
    )
    async def answer_from_whatsapp(tenant_id: str, message_id: str) -> None:
        resources = await lazy.get()
        async with resources.unit_of_work(uuid.UUID(tenant_id)) as uow:
            await replies.answer_from_message(uow, resources.redis, uuid.UUID(message_id))
