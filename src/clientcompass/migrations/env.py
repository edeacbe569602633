"""Alembic environment: runs as the owner role with psycopg 3, comparing against our models."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from clientcompass.db import sqlalchemy_url
from clientcompass.migrations.scope import include_name
from clientcompass.models import Base


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "the owner's DATABASE_URL must be given to Alembic"
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_name=include_name,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
