"""Background jobs on procrastinate (PostgreSQL-backed): deferred by name, after commit.

A job takes ids and plain values, never ORM objects, and opens its own unit of work. Each
process builds its own job app from its settings (no module-level state), so tests can run
several apps side by side.
"""

from __future__ import annotations

import procrastinate

from clientcompass.config import Settings
from clientcompass.contacts import tasks as contacts_tasks
from clientcompass.db import libpq_url
from clientcompass.documents import reminder_tasks as document_reminder_tasks
from clientcompass.documents import reply_tasks as document_reply_tasks
from clientcompass.inbox import tasks as inbox_tasks
from clientcompass.mail import send_mail
from clientcompass.whatsapp import tasks as whatsapp_tasks
from clientcompass.whatsapp import template_tasks
from clientcompass.work import LazyResources

EMAIL_RETRY = procrastinate.RetryStrategy(max_attempts=5, wait=30)


def build_job_app(settings: Settings) -> tuple[procrastinate.App, LazyResources]:
    """The job app for this process (its connector and every task bound to `settings`),
    and the resources its tasks use, to be closed when the process is done."""
    job_app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(settings.app_database_url()))
    )
    resources = LazyResources(settings, job_app)

    @job_app.task(name="send_email", retry=EMAIL_RETRY)
    async def send_email(to: str, subject: str, body: str) -> None:
        await send_mail(settings, to=to, subject=subject, body=body)

    whatsapp_tasks.register(job_app, resources)
    template_tasks.register(job_app, resources)
    contacts_tasks.register(job_app, resources)
    inbox_tasks.register(job_app, resources)
    document_reply_tasks.register(job_app, resources)
    document_reminder_tasks.register(job_app, resources)
    return job_app, resources
