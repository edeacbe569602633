"""`alembic check`: the migrations build exactly the schema the models describe."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from alembic import command

from clientcompass.config import Settings
from clientcompass.migrate import alembic_config, migrate
from tests.conftest import Databases


def test_models_and_migrations_do_not_drift(migrated: Databases) -> None:
    command.check(alembic_config(migrated.owner_url))


def test_migrations_run_one_at_a_time(migrated: Databases, settings: Settings) -> None:
    """Provisioning commands migrate first; several at once (as `make topology` starts them)
    had PostgreSQL refuse a GRANT with "tuple concurrently updated"."""
    at_once = settings.model_copy(update={"database_url": migrated.owner_url})
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = [pool.submit(migrate, at_once) for _ in range(6)]
    assert [outcome.exception() for outcome in outcomes] == [None] * 6
