"""The durable events' job: what acts on a change after it commits, once per event.

The unit of work writes one `EVENT_TASK` job per durable event (realtime/bus.py, work.py) in
the change's own transaction. This job runs every handler the features registered
(jobs.EVENT_HANDLERS: notifications, and later leads and outgoing webhooks) in one unit of
work of the event's tenant. The `event_id` stays the same when the job runs again, so a
handler that must not repeat itself (an email) keys a receipt on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import procrastinate

from clientcompass.realtime.bus import EVENT_TASK, Event
from clientcompass.work import EventHandler, LazyResources


def register(
    job_app: procrastinate.App, lazy: LazyResources, handlers: Sequence[EventHandler]
) -> None:
    @job_app.task(
        name=EVENT_TASK,
        queue="events",
        retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2),
    )
    async def after_commit(
        tenant_id: str, event: str, data: dict[str, Any], event_id: str = ""
    ) -> None:
        resources = await lazy.get()
        async with resources.unit_of_work(uuid.UUID(tenant_id)) as uow:
            for handler in handlers:
                await handler(uow, Event(event), data, event_id)
