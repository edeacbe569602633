"""Numbering: contiguous and unique under concurrency, no gaps on rollback, pattern changes
never collide."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import httpx
import pytest

from clientcompass.db import Database, create_engine
from clientcompass.documents.numbering import DocumentKind, NumberPattern, assign_number
from clientcompass.errors import InvalidInput
from tests.conftest import Databases
from tests.support.accounts import sign_up
from tests.support.aio import run_async

DAY = date(2026, 11, 27)


class Rollback(Exception):
    pass


def test_fifty_concurrent_finalisations_get_contiguous_unique_numbers(
    migrated: Databases, client: httpx.Client
) -> None:
    tenant = sign_up(client).tenant_id
    pattern = NumberPattern("INV-")

    async def scenario() -> list[str]:
        db = Database(create_engine(migrated.app_url, pool_size=10))

        async def finalise() -> str:
            async with db.unit_of_work(tenant) as uow:
                number = await assign_number(uow, tenant, DocumentKind.INVOICE, pattern, DAY)
                await asyncio.sleep(0.01)  # the rest of the finalising transaction
                return number

        try:
            return list(await asyncio.gather(*(finalise() for _ in range(50))))
        finally:
            await db.dispose()

    numbers = run_async(scenario)
    assert sorted(numbers) == [f"INV-2026-{i:04d}" for i in range(1, 51)]


def test_a_rolled_back_finalisation_gives_its_number_back(
    migrated: Databases, client: httpx.Client
) -> None:
    tenant = sign_up(client).tenant_id
    pattern = NumberPattern("Q", include_year=False, separator="", padding=3)

    async def scenario() -> list[str]:
        db = Database(create_engine(migrated.app_url, pool_size=2))
        numbers = []
        try:
            async with db.unit_of_work(tenant) as uow:
                numbers.append(await assign_number(uow, tenant, DocumentKind.QUOTE, pattern, DAY))
            with pytest.raises(Rollback):
                async with db.unit_of_work(tenant) as uow:
                    await assign_number(uow, tenant, DocumentKind.QUOTE, pattern, DAY)
                    raise Rollback
            async with db.unit_of_work(tenant) as uow:
                numbers.append(await assign_number(uow, tenant, DocumentKind.QUOTE, pattern, DAY))
            return numbers
        finally:
            await db.dispose()

    assert run_async(scenario) == ["Q001", "Q002"]


def test_pattern_changes_continue_or_start_fresh_but_never_collide(
    migrated: Databases, client: httpx.Client
) -> None:
    tenant = sign_up(client).tenant_id
    with httpx.Client(base_url=str(client.base_url)) as second_browser:
        other = sign_up(second_browser).tenant_id

    async def scenario() -> list[str]:
        db = Database(create_engine(migrated.app_url, pool_size=2))

        async def next_number(who: uuid.UUID, pattern: NumberPattern, on: date = DAY) -> str:
            async with db.unit_of_work(who) as uow:
                return await assign_number(uow, who, DocumentKind.INVOICE, pattern, on)

        try:
            return [
                await next_number(tenant, NumberPattern("INV-")),
                await next_number(tenant, NumberPattern("INV-", padding=6)),
                await next_number(tenant, NumberPattern("INV-2026-", include_year=False)),
                await next_number(tenant, NumberPattern("TAX/", separator="/")),
                await next_number(tenant, NumberPattern("INV-"), date(2027, 1, 2)),
                await next_number(other, NumberPattern("INV-")),
            ]
        finally:
            await db.dispose()

    assert run_async(scenario) == [
        "INV-2026-0001",
        "INV-2026-000002",
        "INV-2026-0003",
        "TAX/2026/0001",
        "INV-2027-0001",
        "INV-2026-0001",
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prefix": "IN V"}, "prefix"),
        ({"prefix": "INV", "padding": 0}, "padding"),
        ({"prefix": "A", "separator": "."}, "separator"),
    ],
)
def test_bad_patterns_are_refused_with_a_clear_message(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        NumberPattern(**kwargs)  # type: ignore[arg-type]
    assert refused.value.field == field
