"""The sign-in limit holds under parallel guesses: each attempt is reserved in Redis before its
password is checked, so 60 guesses fired at once from one address get exactly the limit's
worth of password checks (a 401 each), and the rest are refused (429) unchecked.

Each test guesses from an address of its own (X-Forwarded-For, trusted from loopback), so its
count never touches the other tests' 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx

from tests.conftest import LiveServer
from tests.support.accounts import PASSWORD, log_in, sign_up, unique_email
from tests.support.aio import run_async
from tests.support.forms import csrf_from

GUESSES = 60


def an_address() -> str:
    return f"203.0.{random.randint(0, 255)}.{random.randint(1, 254)}"


def fire_at_once(url: str, ip: str, emails: list[str]) -> Counter[int]:
    """POST every sign-in at the same moment, over real HTTP; the statuses by count."""

    async def main() -> Counter[int]:
        limits = httpx.Limits(max_connections=len(emails), max_keepalive_connections=len(emails))
        async with httpx.AsyncClient(
            base_url=url, headers={"X-Forwarded-For": ip}, timeout=120, limits=limits
        ) as http:
            csrf = csrf_from((await http.get("/login")).text)
            start = asyncio.Event()

            async def guess(email: str) -> int:
                await start.wait()
                response = await http.post(
                    "/login",
                    data={"email": email, "password": "a wrong guess", "csrf_token": csrf},
                )
                return response.status_code

            tasks = [asyncio.create_task(guess(email)) for email in emails]
            await asyncio.sleep(0)
            start.set()
            return Counter(await asyncio.gather(*tasks))

    return run_async(main)


def test_parallel_guesses_from_one_address_get_no_more_checks_than_the_limit(
    live_server: LiveServer, client: httpx.Client
) -> None:
    limit = live_server.settings.login_max_failures_per_ip
    account = sign_up(client)
    ip = an_address()
    statuses = fire_at_once(live_server.url, ip, [unique_email("guess") for _ in range(GUESSES)])
    # A 401 is a password that was checked and was wrong; a 429 was refused before any check.
    assert statuses[401] == limit, statuses
    assert statuses[429] == GUESSES - limit, statuses
    with httpx.Client(base_url=live_server.url, headers={"X-Forwarded-For": ip}) as owner:
        locked = log_in(owner, account.email, PASSWORD)
        assert locked.status_code == 429, "the right password must wait out the lock too"
        assert "from this network" in locked.text
        assert "cc_session" not in owner.cookies


def test_parallel_guesses_at_one_account_get_no_more_checks_than_its_limit(
    live_server: LiveServer, client: httpx.Client
) -> None:
    limit = live_server.settings.login_max_failures_per_account
    account = sign_up(client)
    statuses = fire_at_once(live_server.url, an_address(), [account.email] * 15)
    assert statuses[401] == limit, statuses
    assert statuses[429] == 15 - limit, statuses
    with httpx.Client(base_url=live_server.url, headers={"X-Forwarded-For": an_address()}) as me:
        locked = log_in(me, account.email, PASSWORD)
        assert locked.status_code == 429
        assert "reset your password" in locked.text


def test_a_good_sign_in_gives_its_reservation_back(
    live_server: LiveServer, client: httpx.Client
) -> None:
    """Successes do not use up an address's budget: an office behind one address signs in all
    day, and only failures count."""
    account = sign_up(client)
    ip = an_address()
    with httpx.Client(base_url=live_server.url, headers={"X-Forwarded-For": ip}) as office:
        for _ in range(live_server.settings.login_max_failures_per_ip + 2):
            assert log_in(office, account.email, PASSWORD).status_code == 303
            office.cookies.clear()
        assert log_in(office, unique_email("nobody"), "wrong").status_code == 401
