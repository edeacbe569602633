"""A job is written in the very transaction of the data it acts on, so no crash can fall
between the commit and the defer. PostgreSQL says so itself: a row's `xmin` is the id of the
transaction that wrote it, and the data row and its job row share one.

And a unit of work never gets a pooled connection whose server has gone (a restart, a
failover, an administrator's kill): the pool replaces it before the work starts."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import psycopg
from sqlalchemy import text

from clientcompass.db import Database, FastPath, create_engine
from tests.conftest import Databases, StandinServer
from tests.support.accounts import sign_up, unique_email
from tests.support.aio import run_async
from tests.support.forms import api_headers, post_form
from tests.support.waiting import wait_for
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile


def test_an_invitation_email_commits_with_the_invitation(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    email = unique_email("invitee")
    response = post_form(
        client,
        "/settings/team/invite",
        {"email": email, "role": "agent"},
        csrf_page="/settings/team",
    )
    assert response.status_code == 201
    row = owner_conn.execute(
        "select i.xmin::text, j.xmin::text from invitations i, procrastinate_jobs j "
        "where i.email = %s and j.task_name = 'send_email' and j.args->>'to' = %s",
        (email, email),
    ).fetchone()
    assert row is not None and row[0] == row[1]


def test_a_send_and_an_inbound_message_commit_with_their_jobs(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    received = customer_says(standin, channel, phone, "Is Tuesday fine?")
    inbound = owner_conn.execute(
        "select m.xmin::text, j.xmin::text from messages m join procrastinate_jobs j "
        "on j.args->>'message_id' = m.id::text "
        "where m.provider_sid = %s and j.task_name = 'conversations.inbound_recorded'",
        (received["message_sid"],),
    ).fetchall()
    assert len(inbound) == 1 and inbound[0][0] == inbound[0][1]

    conversation_id = conversation_with(client, phone)["id"]
    sent = client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "Tuesday is fine"},
        headers=api_headers(client),
    )
    assert sent.status_code == 202
    outbound = owner_conn.execute(
        "select m.xmin::text, j.xmin::text from messages m join procrastinate_jobs j "
        "on j.args->>'message_id' = m.id::text "
        "where m.id = %s and j.task_name = 'whatsapp.send_message'",
        (sent.json()["id"],),
    ).fetchall()
    assert len(outbound) == 1 and outbound[0][0] == outbound[0][1]


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


async def backend_pid(db: Database) -> int:
    async with db.unit_of_work() as uow:
        return int((await uow.session.execute(text("select pg_backend_pid()"))).scalar_one())


async def fast_pids(fast: FastPath, count: int) -> set[int]:
    """Hold `count` pooled connections at once, so each is a different one."""
    async with contextlib.AsyncExitStack() as held:
        pids = set()
        for _ in range(count):
            conn = await held.enter_async_context(fast.statement())
            row = await (await conn.execute("select pg_backend_pid()")).fetchone()
            assert row is not None
            pids.add(int(row[0]))
        return pids


def test_pooled_connections_whose_server_went_away_are_replaced_before_use(
    migrated: Databases, owner_conn: psycopg.Connection
) -> None:
    async def scenario() -> None:
        db = Database(create_engine(migrated.app_url, pool_size=1))
        fast = FastPath(migrated.app_url, max_size=2)
        await fast.open()
        try:
            before = {await backend_pid(db)} | await fast_pids(fast, 2)
            assert len(before) == 3
            await asyncio.to_thread(terminate, owner_conn, before)
            # No error reaches the caller: each dead connection is noticed at checkout.
            after = {await backend_pid(db)} | await fast_pids(fast, 2)
            assert len(after) == 3 and not after & before
        finally:
            await fast.close()
            await db.dispose()

    run_async(scenario)
