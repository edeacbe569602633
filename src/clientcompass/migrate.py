"""Schema management as the owner role: the app role, Alembic, and the app role's grants."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql

from clientcompass.config import Settings
from clientcompass.db import libpq_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Tables the app role must never touch directly: the login index is reached only through
# SECURITY DEFINER functions, and the migration history is the owner's.
NO_APP_ACCESS = frozenset({"alembic_version", "login_index"})


def alembic_config(owner_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    config.set_main_option("sqlalchemy.url", owner_url.replace("%", "%%"))
    return config


def ensure_app_role(owner_url: str, role: str, password: str) -> None:
    """Create the non-owner login role if it is missing (needs CREATEROLE on first run)."""
    with psycopg.connect(libpq_url(owner_url), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        if exists:
            if password:  # keep the role's password in step with DATABASE_APP_PASSWORD
                conn.execute(
                    sql.SQL("alter role {} password {}").format(
                        sql.Identifier(role), sql.Literal(password)
                    )
                )
            return
        statement = sql.SQL("create role {} login nosuperuser nobypassrls noinherit").format(
            sql.Identifier(role)
        )
        if password:
            statement = statement + sql.SQL(" password {}").format(sql.Literal(password))
        conn.execute(statement)


def grant_app_role(owner_url: str, role: str) -> None:
    """Give the app role DML on every table but the few in NO_APP_ACCESS; idempotent."""
    with psycopg.connect(libpq_url(owner_url), autocommit=True) as conn:
        ident = sql.Identifier(role)
        conn.execute(sql.SQL("grant usage on schema public to {}").format(ident))
        tables = [
            name
            for (name,) in conn.execute(
                "select tablename from pg_tables where schemaname = 'public'"
            ).fetchall()
        ]
        for table in tables:
            verb = (
                "revoke all on {} from {}"
                if table in NO_APP_ACCESS
                else ("grant select, insert, update, delete on {} to {}")
            )
            conn.execute(sql.SQL(verb).format(sql.Identifier(table), ident))
        conn.execute(
            sql.SQL("grant usage, select on all sequences in schema public to {}").format(ident)
        )
        # Procrastinate's functions and our narrow lookups are called by the app role.
        conn.execute(sql.SQL("grant execute on all functions in schema public to {}").format(ident))


# Any 64-bit number unique to this use: the key of the lock migrations take.
MIGRATION_LOCK = 0x0C1E_0C0A_5500_0001


def migrate(settings: Settings) -> None:
    """Bring the schema to head and make sure the app role can use it.

    One at a time per database (a session advisory lock): the provisioning commands migrate
    first, and two run at once (or two deploys' `migrate`) made PostgreSQL refuse one GRANT
    with "tuple concurrently updated"."""
    owner_url = settings.database_url
    with psycopg.connect(libpq_url(owner_url), autocommit=True) as lock:
        lock.execute("select pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        ensure_app_role(owner_url, settings.database_app_role, settings.database_app_password)
        config = alembic_config(owner_url)
        config.attributes["data_dir"] = settings.data_dir  # 0015 moves DATA_DIR/media in
        command.upgrade(config, "head")
        grant_app_role(owner_url, settings.database_app_role)
        # The lock ends with its session, when this connection closes.
