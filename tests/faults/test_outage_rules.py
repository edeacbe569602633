"""Telling an outage from a failure: an unreachable server is a 503 and a retry; a statement
that failed stays what it was (a 4xx from its own handler, or a 500 for a bug). These run
against servers that are not there, and need none of their own."""

from __future__ import annotations

import datetime

import psycopg
import pytest
from procrastinate import RetryStrategy
from procrastinate.jobs import Job
from redis.exceptions import ResponseError
from sqlalchemy import text

from clientcompass.db import Database, create_engine, database_unavailable
from clientcompass.redis import create_redis, redis_unavailable
from clientcompass.worker_loop import OutageRetry
from tests.conftest import Databases, free_port
from tests.support.aio import run_async


def nothing_listens() -> str:
    return f"127.0.0.1:{free_port()}"


def test_a_database_nobody_answers_is_an_outage_and_a_failed_statement_is_not(
    migrated: Databases,
) -> None:
    async def errors() -> list[BaseException]:
        found: list[BaseException] = []
        for url, statement in (
            (f"postgresql://clientcompass_app@{nothing_listens()}/x", "select 1"),
            (migrated.app_url, "select 1/0"),
            (migrated.app_url, "select * from login_index"),  # the app role may not
        ):
            db = Database(create_engine(url, pool_size=1))
            try:
                async with db.unit_of_work() as uow:
                    await uow.session.execute(text(statement))
            except Exception as exc:
                found.append(exc)
            finally:
                await db.dispose()
        return found

    refused, division, denied = run_async(errors)
    assert database_unavailable(refused)
    assert not database_unavailable(division)
    assert not database_unavailable(denied)
    # The server telling its sessions it is going, or that it is full, is an outage too;
    # losing a serialization race is not.
    assert database_unavailable(psycopg.errors.AdminShutdown())
    assert database_unavailable(psycopg.errors.TooManyConnections())
    assert not database_unavailable(psycopg.errors.SerializationFailure())


def test_a_redis_nobody_answers_is_an_outage_and_a_refused_command_is_not(
    redis_url: str,
) -> None:
    async def errors() -> list[BaseException]:
        found: list[BaseException] = []
        for url, command in (
            (f"redis://{nothing_listens()}/0", ("PING",)),
            (redis_url, ("NO-SUCH-COMMAND",)),
        ):
            client = create_redis(url)
            try:
                await client.execute_command(*command)
            except Exception as exc:
                found.append(exc)
            finally:
                await client.aclose()
        return found

    refused, unknown = run_async(errors)
    assert redis_unavailable(refused)
    assert isinstance(unknown, ResponseError) and not redis_unavailable(unknown)


def job(attempts: int) -> Job:
    return Job(
        id=1,
        queue="default",
        lock=None,
        queueing_lock=None,
        task_name="t",
        task_kwargs={},
        attempts=attempts,
        scheduled_at=None,
    )


@pytest.mark.parametrize("inner", [None, RetryStrategy(max_attempts=1)])
def test_a_job_that_met_an_outage_runs_again_whatever_its_own_strategy(
    inner: RetryStrategy | None,
) -> None:
    strategy = OutageRetry(inner)
    outage = psycopg.OperationalError("connection refused")
    now = datetime.datetime.now(datetime.UTC)
    for attempts in (0, 5, 50):  # beyond the task's own max_attempts, for as long as it lasts
        decision = strategy.get_retry_decision(exception=outage, job=job(attempts))
        assert decision is not None and decision.retry_at is not None
        wait = (decision.retry_at - now).total_seconds()
        assert 1 <= wait <= 301
    # Anything else is the task's own strategy's call.
    bug = ValueError("a bug")
    first = strategy.get_retry_decision(exception=bug, job=job(0))
    assert (first is not None) == (inner is not None)
    assert strategy.get_retry_decision(exception=bug, job=job(1)) is None
