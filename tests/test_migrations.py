"""`alembic check`: the migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from clientcompass.db import sqlalchemy_url
from clientcompass.migrations.scope import include_name
from clientcompass.models import Base
from tests.conftest import Databases


def test_models_and_migrations_do_not_drift(migrated: Databases) -> None:
    engine = create_engine(sqlalchemy_url(migrated.owner_url))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_name": include_name}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
