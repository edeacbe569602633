"""`alembic check`: the migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic import command

from clientcompass.migrate import alembic_config
from tests.conftest import Databases


def test_models_and_migrations_do_not_drift(migrated: Databases) -> None:
    command.check(alembic_config(migrated.owner_url))
