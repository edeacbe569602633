"""PostgreSQL sessions ended from outside, as a server restart or a dead machine ends them."""

from __future__ import annotations

import psycopg

from tests.support.waiting import wait_for


def terminate(conn: psycopg.Connection, pids: set[int]) -> None:
    """What a server restart does to these sessions, and only to these (others share the
    database): each is told the server is going, and cut."""
    conn.execute("select pg_terminate_backend(pid) from unnest(%s::int[]) as pid", (list(pids),))

    def gone() -> bool:
        row = conn.execute(
            "select count(*) from pg_stat_activity where pid = any(%s)", (list(pids),)
        ).fetchone()
        return row == (0,)

    wait_for(gone, 10, "the sessions to end", every=0.02)
