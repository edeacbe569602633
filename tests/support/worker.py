"""The worker in this process: what `clientcompass worker` does, without starting a Python
for it. (tests/core/test_cli.py runs the real `worker --once` command, and the kill -9
tests run real worker processes.)"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import procrastinate
from procrastinate.app import WorkerOptions

from clientcompass import jobs
from clientcompass.cli import ONCE_MAX_ROUNDS
from clientcompass.config import Settings
from clientcompass.whatsapp import tasks as whatsapp_tasks
from clientcompass.work import LazyResources


async def run_queued_jobs(settings: Settings) -> None:
    """Run every job due now, and the jobs those defer, then return (`worker --once`)."""
    async with started(settings) as (job_app, _):
        for _ in range(ONCE_MAX_ROUNDS):
            await job_app.run_worker_async(**worker_options(settings, wait=False))
            if not await jobs.any_due(job_app):
                break


@contextlib.contextmanager
def running_worker(settings: Settings) -> Iterator[None]:
    """A worker on its own thread and loop, for as long as a journey needs replies sent."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        done = pool.submit(asyncio.run, work_until(settings, stop))
        try:
            yield
        finally:
            stop.set()
            done.result(timeout=30)


async def work_until(settings: Settings, stop: threading.Event) -> None:
    """Work (the periodic jobs too) until `stop` is set or the worker fails."""
    async with started(settings) as (job_app, _):
        worker = asyncio.create_task(
            job_app.run_worker_async(**worker_options(settings, wait=True))
        )
        stopped = asyncio.create_task(asyncio.to_thread(stop.wait))
        await asyncio.wait({worker, stopped}, return_when=asyncio.FIRST_COMPLETED)
        worker.cancel()  # procrastinate lets the running jobs finish first
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        stop.set()
        await stopped


@contextlib.asynccontextmanager
async def started(
    settings: Settings,
) -> AsyncIterator[tuple[procrastinate.App, LazyResources]]:
    """The job app, opened, after what a starting worker repairs (as cli.cmd_worker does)."""
    job_app, resources = jobs.build_job_app(settings)
    async with job_app.open_async():
        try:
            await jobs.retry_stalled_jobs(job_app, settings)
            await whatsapp_tasks.sweep_outbox_now(resources)
            yield job_app, resources
        finally:
            await resources.close()


def worker_options(settings: Settings, *, wait: bool) -> WorkerOptions:
    """The options cli.cmd_worker runs with, minus the signal handlers (not our process's)."""
    stalled_after = settings.worker_stalled_after_seconds
    return {
        "concurrency": settings.worker_concurrency,
        "wait": wait,
        "install_signal_handlers": False,
        "update_heartbeat_interval": stalled_after / 3,
        "stalled_worker_timeout": stalled_after,
    }
