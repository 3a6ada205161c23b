"""Alembic environment for tagwatch: the database URL and how migrations run (batch on SQLite)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, text

from tagwatch.store.engine import database_url, make_engine
from tagwatch.store.models import Base

config = context.config
target_metadata = Base.metadata

#: Held for the whole upgrade on PostgreSQL, so that replicas starting together migrate once.
_MIGRATION_LOCK = 0x7461_6777  # "tagw"


def _url() -> str:
    """The caller's URL, then `-x url=...`, then sqlalchemy.url, then $TAGWATCH_DATABASE_URL."""
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    url = url or config.get_main_option("sqlalchemy.url") or os.environ.get("TAGWATCH_DATABASE_URL")
    return database_url(url)


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
        literal_binds=connection is None,
    )


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite and not connection.in_transaction():
        # A batch migration re-creates tables; with foreign keys on, dropping a referenced
        # table would cascade. The pragma cannot change inside a transaction.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
    try:
        _configure(connection)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            context.run_migrations()
    finally:
        if sqlite and not connection.in_transaction():
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")  # type: ignore[union-attr]


def run_migrations_offline() -> None:
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
            if connection.in_transaction():
                connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
