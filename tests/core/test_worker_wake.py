"""The worker looks for work again when a job that held a lock ends, and only then.

A job held back by its lock (a conversation's sends go out one at a time) was inserted long
before, so no notification announces it when the job ahead of it ends. The worker here never
polls (an hour between looks), so only the wake-up can start it."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
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
        self.found: list[bool] = []  # per fetch that has returned: did it find a job
        # Run once inside the next fetch that finds nothing, before it returns.
        self.during_empty_fetch: Callable[[], Awaitable[None]] | None = None
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

    def idle(self) -> bool:
        """The worker found a job, then looked again with its free slot, found nothing and has
        no fetch in flight: the fetches counted from here are the ones a new job causes."""
        found = self.found
        return len(found) == len(self.fetches) and True in found and not found[-1]

    @contextlib.asynccontextmanager
    async def working(self) -> AsyncIterator[WakingWorker]:
        """The worker running for the block, then stopped, even when the test failed while
        job 1 was held: the worker waits for its running jobs, so a held job left waiting
        would hang the test."""
        async with self.app.open_async():
            worker = self.worker()
            running = asyncio.create_task(worker.run())
            try:
                yield worker
            finally:
                self.release.set()
                worker.stop()
                await asyncio.wait_for(running, 10)

    def worker(self) -> WakingWorker:
        manager = self.app.job_manager
        fetch = manager.fetch_job

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.fetches.append(time.monotonic())
            job = None
            try:
                job = await fetch(*args, **kwargs)
                if job is None and self.during_empty_fetch is not None:
                    hook, self.during_empty_fetch = self.during_empty_fetch, None
                    await hook()
                return job
            finally:
                self.found.append(job is not None)

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
        async with s.working():
            await s.step.configure(lock=s.queue).defer_async(n=1)
            await until(lambda: ("start", 1) in s.events)
            await until(s.idle)
            looked = len(s.fetches)
            await s.step.configure(lock=s.queue).defer_async(n=2)
            # Its notification made the worker look, and find it held back by the lock.
            await until(lambda: len(s.fetches) > looked)
            await asyncio.sleep(0.2)
            assert ("start", 2) not in s.events
            s.release.set()
            await until(lambda: ("end", 2) in s.events)
        return s.events

    assert run_async(scenario) == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]


def test_a_job_without_a_lock_ending_costs_no_fetch(settings: Settings) -> None:
    async def scenario() -> tuple[int, int]:
        s = Scenario(settings)
        async with s.working():
            await s.step.defer_async(n=1)
            await until(lambda: ("start", 1) in s.events)
            await until(s.idle)  # the fetches its notification caused are done
            before = len(s.fetches)
            s.release.set()
            await until(lambda: ("end", 1) in s.events)
            await asyncio.sleep(0.5)
        return before, len(s.fetches)

    before, after = run_async(scenario)
    assert before > 0 and after == before


def test_a_job_announced_while_the_worker_looks_in_vain_is_not_forgotten(
    settings: Settings,
) -> None:
    """Its notification arrives while a fetch that cannot see it is in flight; that fetch
    finds nothing. procrastinate 3.10 then cleared the wake-up and the job waited for the
    next poll (never, here)."""

    async def scenario() -> list[tuple[str, int]]:
        s = Scenario(settings)
        async with s.working() as worker:
            await s.step.defer_async(n=10)  # the listener is up once this one has run
            await until(lambda: ("end", 10) in s.events)
            await until(s.idle)

            async def announce_a_job() -> None:
                await s.step.defer_async(n=12)
                await until(worker._new_job_event.is_set)  # its notification is here

            s.during_empty_fetch = announce_a_job
            await s.step.defer_async(n=11)  # found; the fetch after it finds nothing
            await until(lambda: ("end", 12) in s.events)
        return s.events

    assert run_async(scenario) == [(event, n) for n in (10, 11, 12) for event in ("start", "end")]
