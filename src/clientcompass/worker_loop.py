"""The job worker, kept alive through PostgreSQL and Redis outages.

procrastinate's worker loop ends when its database goes: the listener or the heartbeat
loses its connection, the worker stops, and unregistering itself fails. Left alone, the
`clientcompass worker` process would exit and stay down after a ten-second outage.
`ResilientWorker` starts the loop again instead: it logs the failure, waits (with backoff)
until the database answers, releases the jobs the lost loop held, runs the repairs a starting
worker runs (stalled jobs back in the queue, the outbox swept), and resumes, in the same
process. `OutageRetry` puts a job that failed because a server was unreachable back in the
queue for later, whatever the task's own retry strategy says.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import procrastinate
import structlog
from procrastinate import utils as procrastinate_utils
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision
from procrastinate.worker import Worker

from clientcompass.db import database_unavailable
from clientcompass.redis import redis_unavailable

log = structlog.get_logger(__name__)

# Between attempts to resume: short at first (a restart takes seconds), capped so a long
# outage is noticed soon after it ends.
FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 5.0
# A loop that ran this long before it failed was healthy: the next failure starts the backoff
# afresh.
HEALTHY_AFTER_SECONDS = 60.0
# A job that met an outage runs again after 2, 4, 8… seconds, at most this long apart.
OUTAGE_RETRY_MAX_SECONDS = 300


class _WorkerLoop(Protocol):
    """What we use of procrastinate's `Worker` (its methods carry no annotations)."""

    worker_id: int | None

    async def run(self) -> None: ...

    def stop(self) -> None: ...


def is_outage(exc: BaseException) -> bool:
    return database_unavailable(exc) or redis_unavailable(exc)


class OutageRetry(procrastinate.BaseRetryStrategy):
    """Retry a job whose failure was an outage, for as long as the outage lasts; any other
    failure is the task's own strategy's to judge (none: the job fails)."""

    def __init__(self, inner: procrastinate.BaseRetryStrategy | None) -> None:
        self.inner = inner

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if is_outage(exception):
            wait = min(OUTAGE_RETRY_MAX_SECONDS, 2 ** min(job.attempts + 1, 16))
            return RetryDecision(retry_in={"seconds": wait})
        if self.inner is None:
            return None
        retry = self.inner.get_retry_exception(exception=exception, job=job)
        return retry.retry_decision if retry is not None else None


def retry_through_outages(job_app: procrastinate.App) -> None:
    """Give every task registered on `job_app` an `OutageRetry` around its own strategy."""
    for task in job_app.tasks.values():
        if not isinstance(task.retry_strategy, OutageRetry):
            task.retry_strategy = OutageRetry(task.retry_strategy)


class WakingWorker(Worker):
    """procrastinate's worker, looking for work again as soon as a job holding a lock ends.

    It otherwise looks only when a job is inserted (LISTEN/NOTIFY) or every 5 seconds. A job
    held back by its lock (a conversation's next send waits for the one before it,
    whatsapp/outbound.py) was inserted long ago, so nothing wakes the worker when the job
    ahead of it finishes: a flow's greeting and question went out 5 seconds apart. Only a
    job with a lock can hold another back; waking after every job cost each one an empty
    fetch (a round trip and a queue scan: bench/notify).

    It also forgets a wake-up only before it looks, not after. procrastinate 3.10 clears its
    event when a fetch returns, so a job announced while that fetch was in flight (too late
    for its query) was forgotten, and when the fetch found nothing the job waited for the
    next poll: up to 5 seconds for a customer's message in a burst."""

    async def _process_job(self, context: Any) -> None:
        try:
            await super()._process_job(context)
        finally:
            if context.job.lock is not None:
                self._new_job_event.set()

    async def _fetch_and_process_jobs(self) -> None:
        """procrastinate 3.10's loop (pinned in pyproject.toml), with the event cleared before
        each fetch instead of after it."""
        while not self._stop_event.is_set():
            acquire_sem_task = asyncio.create_task(self._job_semaphore.acquire())
            job = None
            try:
                await procrastinate_utils.wait_any(acquire_sem_task, self._stop_event.wait())
                if self._stop_event.is_set():
                    break
                assert self.worker_id is not None
                self._new_job_event.clear()
                job = await self.app.job_manager.fetch_job(
                    queues=self.queues, worker_id=self.worker_id
                )
            finally:
                if (not job or self._stop_event.is_set()) and acquire_sem_task.done():
                    self._job_semaphore.release()
            if not job:
                break
            self._start(job)

    def _start(self, job: Job) -> None:
        job_id = job.id
        context = JobContext(
            app=self.app,
            worker_name=self.worker_name,
            worker_queues=self.queues,
            additional_context=self.additional_context.copy() if self.additional_context else {},
            job=job,
            abort_reason=lambda: self._job_ids_to_abort.get(job_id) if job_id else None,
            start_timestamp=time.time(),
        )
        job_task = asyncio.create_task(
            self._process_job(context), name=f"process job {job.task_name}[{job.id}]"
        )
        self._running_jobs[job_task] = context

        def on_job_complete(task: asyncio.Task[None]) -> None:
            del self._running_jobs[task]
            self._job_semaphore.release()

        job_task.add_done_callback(on_job_complete)


class ResilientWorker:
    """procrastinate's worker loop, started again whenever it ends without being asked to."""

    def __init__(
        self,
        job_app: procrastinate.App,
        options: dict[str, Any],
        *,
        on_resume: Callable[[], Awaitable[object]],
    ) -> None:
        self.job_app = job_app
        self.options = {**options, "install_signal_handlers": False}
        self.on_resume = on_resume
        self.restarts = 0
        self._stopping = asyncio.Event()
        self._worker: _WorkerLoop | None = None

    def stop(self) -> None:
        """Finish the running jobs and return (the first SIGINT/SIGTERM does this)."""
        self._stopping.set()
        if self._worker is not None:
            self._worker.stop()

    async def run(self, *, handle_signals: bool = True) -> None:
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()

        def first_signal() -> None:
            # A second signal gets the default behaviour back: stop now.
            for sig in signals:
                loop.remove_signal_handler(sig)
            self.stop()

        for sig in signals:
            loop.add_signal_handler(sig, first_signal)
        try:
            await self._run()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    async def _run(self) -> None:
        delay = FIRST_DELAY_SECONDS
        while not self._stopping.is_set():
            worker: _WorkerLoop = WakingWorker(app=self.job_app, **self.options)
            self._worker = worker
            started = asyncio.get_running_loop().time()
            failure: Exception | None = None
            try:
                await worker.run()
            except Exception as exc:
                failure = exc
            finally:
                self._worker = None
            if self._stopping.is_set():
                if failure is not None:
                    log.warning("worker stopped uncleanly", error=repr(failure))
                return
            if asyncio.get_running_loop().time() - started > HEALTHY_AFTER_SECONDS:
                delay = FIRST_DELAY_SECONDS
            self._log_end(failure, delay)
            await self._resume(worker.worker_id, delay)
            delay = min(delay * 2, MAX_DELAY_SECONDS)
            self.restarts += 1

    def _log_end(self, failure: Exception | None, delay: float) -> None:
        if failure is None:
            log.warning("worker loop ended on its own; starting it again", retry_in=delay)
        elif is_outage(failure):
            log.warning(
                "worker lost its database or Redis; resuming when it is back",
                error=repr(failure),
                retry_in=delay,
            )
        else:
            log.error("worker loop failed; starting it again", retry_in=delay, exc_info=failure)

    async def _resume(self, lost_worker_id: int | None, delay: float) -> None:
        """Wait until the database answers, then release what the lost loop held and repair.

        Unregistering the lost worker sets its jobs' `worker_id` to NULL, which makes them
        stalled at once: the repair puts them back in the queue (each job's own check makes a
        second run do nothing twice)."""
        while not await self._stopped_within(delay):
            try:
                if lost_worker_id is not None:
                    await self.job_app.job_manager.unregister_worker(lost_worker_id)
                    lost_worker_id = None
                await self.on_resume()
                return
            except Exception as exc:
                if not is_outage(exc):
                    log.exception("repairs before resuming failed; resuming anyway")
                    return
                delay = min(delay * 2, MAX_DELAY_SECONDS)
                log.info("still waiting for the database or Redis", retry_in=delay)

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()
