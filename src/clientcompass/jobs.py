"""Background jobs on procrastinate (PostgreSQL-backed): deferred by name, after commit.

A job takes ids and plain values, never ORM objects, and opens its own unit of work.
"""

from __future__ import annotations

from typing import Any

import procrastinate

from clientcompass.config import Settings
from clientcompass.db import libpq_url
from clientcompass.mail import send_mail

app = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=[])

_settings: Settings | None = None


def configure(settings: Settings) -> procrastinate.App:
    """Bind the job app to this process's settings and database."""
    global _settings
    _settings = settings
    connector = procrastinate.PsycopgConnector(conninfo=libpq_url(settings.app_database_url()))
    return app.with_connector(connector)


def current_settings() -> Settings:
    if _settings is None:
        raise RuntimeError("jobs.configure() was not called in this process")
    return _settings


@app.task(name="send_email", retry=procrastinate.RetryStrategy(max_attempts=5, wait=30))
async def send_email(to: str, subject: str, body: str) -> None:
    await send_mail(current_settings(), to=to, subject=subject, body=body)


async def defer(job_app: procrastinate.App, name: str, kwargs: dict[str, Any]) -> None:
    await job_app.configure_task(name).defer_async(**kwargs)
