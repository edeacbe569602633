"""The job queue in tests: run the queued jobs until what they do has happened."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TypeVar

import psycopg

from tests.conftest import LiveServer
from tests.support.waiting import wait_for

T = TypeVar("T")


def run_jobs_until(
    live_server: LiveServer, predicate: Callable[[], T], timeout: float = 15, message: str = ""
) -> T:
    """Run the due jobs, again and again, until `predicate` holds.

    A retry or a reconcile is scheduled a moment ahead; this runs it as soon as it is due
    instead of sleeping a guess at the delay first.
    """

    def ran_and_holds() -> T:
        live_server.run_jobs()
        return predicate()

    return wait_for(ran_and_holds, timeout, message or "the jobs' outcome", every=0.2)


def jobs_left(conn: psycopg.Connection, **args: str) -> int:
    """Jobs still to run, now or later, whose arguments include `args`."""
    row = conn.execute(
        "select count(*) from procrastinate_jobs "
        "where status in ('todo', 'doing') and args @> %s::jsonb",
        (json.dumps(args),),
    ).fetchone()
    assert row is not None
    return int(row[0])
