"""Jobs put straight in the real queue, for the process tests to watch a worker run."""

from __future__ import annotations

import psycopg

from clientcompass.config import Settings
from clientcompass.jobs import build_job_app
from tests.support.aio import run_async


def defer_email(settings: Settings, to: str, subject: str = "Lifecycle test") -> int:
    """Queue one `send_email` job, as the app does after a commit; its job id."""

    async def defer() -> int:
        job_app, _ = build_job_app(settings)
        async with job_app.open_async():
            return await job_app.configure_task("send_email").defer_async(
                to=to, subject=subject, body=f"Hello {to}"
            )

    return run_async(defer)


def job_status(conn: psycopg.Connection, job_id: int) -> str:
    row = conn.execute("select status from procrastinate_jobs where id = %s", (job_id,)).fetchone()
    assert row is not None, f"job {job_id} is gone"
    return str(row[0])
