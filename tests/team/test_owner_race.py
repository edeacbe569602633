"""Two owners acting on each other at the same moment never leave a business without an owner:
every change to the owner set waits for the business's lock, and the loser is told why."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from clientcompass.models import Role
from tests.conftest import LiveServer
from tests.support import factories
from tests.support.accounts import unique_email
from tests.support.forms import api_headers
from tests.support.step_up import CONFIRM

ROUNDS = 10
LOSER_MESSAGES = ("at least one owner", "Only an owner", "no longer")


def owners_left(owner_conn: psycopg.Connection, tenant_id: object) -> int:
    row = owner_conn.execute(
        "select count(*) from users where tenant_id = %s and role = 'owner' and is_active",
        (tenant_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("action", ["demote", "remove"])
def test_two_owners_acting_on_each_other_at_once_leave_one_owner(
    live_server: LiveServer, owner_conn: psycopg.Connection, action: str
) -> None:
    settings = live_server.settings
    outcomes: list[list[int]] = []
    for _ in range(ROUNDS):
        first = factories.business_with_owner(settings)
        second = factories.teammate(
            settings,
            first.tenant_id,
            first.user_id,
            email=unique_email("owner2"),
            role=Role.OWNER,
            name="Second Owner",
        )
        with (
            httpx.Client(base_url=live_server.url, timeout=30) as a,
            httpx.Client(base_url=live_server.url, timeout=30) as b,
        ):
            factories.sign_in(a, first)
            factories.sign_in(b, second)
            together = threading.Barrier(2)
            calls = [
                (a, api_headers(a), second.user_id, together),
                (b, api_headers(b), first.user_id, together),
            ]

            def act(
                call: tuple[httpx.Client, dict[str, str], object, threading.Barrier],
            ) -> httpx.Response:
                client, headers, target, barrier = call
                barrier.wait()
                if action == "demote":
                    return client.put(
                        f"/api/v1/members/{target}/role", json={"role": "admin"}, headers=headers
                    )
                return client.delete(f"/api/v1/members/{target}", headers={**headers, **CONFIRM})

            with ThreadPoolExecutor(max_workers=2) as pool:
                responses = list(pool.map(act, calls))
        statuses = sorted(r.status_code for r in responses)
        outcomes.append(statuses)
        assert owners_left(owner_conn, first.tenant_id) == 1, statuses
        won = 200 if action == "demote" else 204
        assert statuses[0] == won, [r.text for r in responses]
        loser = next(r for r in responses if r.status_code != won)
        assert loser.status_code in (403, 409), loser.text
        message = loser.json()["error"]["message"]
        assert any(words in message for words in LOSER_MESSAGES), message
    assert len(outcomes) == ROUNDS
