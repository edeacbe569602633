"""The worker looks for work again when a job that held a lock ends, and only then.

A job held back by its lock (a conversation's sends go out one at a time) was inserted long
before, so no notification announces it when the job ahead of it ends. The worker here never
polls (an hour between looks), so only the wake-up can start it."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import procrastinate

from clientcompass.config import Settings
from clientcompass.db import job_queue_pool, libpq_url
from clientcompass.worker_loop import WakingWorker
from tests.support.aio import run_async

NEVER_POLL_SECONDS = 3600.0


async def until(predicate: Any) -> None:
    for _ in range(500):  # 10 s
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


class Scenario:
    """A job app on a queue of its own (other tests' jobs are not ours to run), counting the
    worker's fetches."""

    def __init__(self, settings: Settings) -> None:
        self.queue = f"wake-{uuid.uuid4().hex[:10]}"
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(
                conninfo=libpq_url(settings.app_database_url()),
                min_size=1,
                max_size=4,
                pool_factory=job_queue_pool,
            )
        )
        self.events: list[tuple[str, int]] = []
        self.fetches: list[float] = []
        self.release = asyncio.Event()

        @self.app.task(name=f"tests.{self.queue}", queue=self.queue)
        async def step(n: int) -> None:
            self.events.append(("start", n))
            if n == 1:
                await self.release.wait()
            self.events.append(("end", n))
            self.ended = time.monotonic()

        self.step = step
        self.ended = 0.0

    def worker(self) -> WakingWorker:
        manager = self.app.job_manager
        fetch = manager.fetch_job

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.fetches.append(time.monotonic())
            return await fetch(*args, **kwargs)

        manager.fetch_job = counted  # type: ignore[method-assign]
        return WakingWorker(
            app=self.app,
            queues=[self.queue],
            concurrency=2,
            fetch_job_polling_interval=NEVER_POLL_SECONDS,
            install_signal_handlers=False,
            wait=True,
        )


def test_a_job_held_by_its_lock_starts_as_soon_as_the_one_ahead_ends(
    settings: Settings,
) -> None:
    async def scenario() -> list[tuple[str, int]]:
        s = Scenario(settings)
        async with s.app.open_async():
            worker = s.worker()
            running = asyncio.create_task(worker.run())
            try:
                await s.step.configure(lock=s.queue).defer_async(n=1)
                await until(lambda: ("start", 1) in s.events)
                looked = len(s.fetches)
                await s.step.configure(lock=s.queue).defer_async(n=2)
                # Its notification made the worker look, and find it held back by the lock.
                await until(lambda: len(s.fetches) > looked)
                await asyncio.sleep(0.2)
                assert ("start", 2) not in s.events
                s.release.set()
                await until(lambda: ("end", 2) in s.events)
            finally:
                worker.stop()
                await running
        return s.events

    assert run_async(scenario) == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]


def test_a_job_without_a_lock_ending_costs_no_fetch(settings: Settings) -> None:
    async def scenario() -> tuple[int, int]:
        s = Scenario(settings)
        async with s.app.open_async():
            worker = s.worker()
            running = asyncio.create_task(worker.run())
            try:
                await s.step.defer_async(n=1)
                await until(lambda: ("start", 1) in s.events)
                await asyncio.sleep(0.3)  # the fetches its notification caused are done
                before = len(s.fetches)
                s.release.set()
                await until(lambda: ("end", 1) in s.events)
                await asyncio.sleep(0.5)
            finally:
                worker.stop()
                await running
        return before, len(s.fetches)

    before, after = run_async(scenario)
    assert before > 0 and after == before
