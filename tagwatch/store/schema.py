"""Opening a database: is its schema ours and current, or empty and to be migrated."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, inspect

from tagwatch.errors import StoreError
from tagwatch.store.engine import (
    HEAD_REVISION,
    current_revision,
    head_revision,
    known_revisions,
    run_migrations,
    safe_url,
)
from tagwatch.store.models import Base

__all__ = ["check_schema"]

log = logging.getLogger(__name__)

_OUR_TABLES = frozenset(table.name for table in Base.metadata.sorted_tables)


def check_schema(engine: Engine, url: str, *, migrate: bool) -> None:
    """Return when the database at `url` is at the latest revision, migrating an empty one
    when `migrate`; raise StoreError saying what to do otherwise."""
    with engine.connect() as connection:
        current = current_revision(connection)
        if current == HEAD_REVISION:
            return  # the usual case, decided without importing Alembic
        head = head_revision()
        if current is None:
            ours = _OUR_TABLES & set(inspect(connection).get_table_names())
            if ours:
                # A replica migrating at the same time may have committed since we read
                # the revision: on PostgreSQL each statement sees what is committed, and
                # its tables and revision are committed together.
                current = current_revision(connection)
            if ours and current is None:
                raise StoreError(
                    f"database {safe_url(url)} has tagwatch tables ({', '.join(sorted(ours))}) "
                    "but no schema revision; restore it or use an empty database"
                )
            if not ours:
                if not migrate:
                    raise StoreError(
                        f"database {safe_url(url)} is empty; run `tagwatch db upgrade`"
                    )
                log.info("creating the tagwatch schema in %s", safe_url(url))
                run_migrations(connection)
                return
        if current == head:
            return
        if current in known_revisions():
            raise StoreError(f"database is at revision {current}; run `tagwatch db upgrade`")
        raise StoreError(
            f"database is at revision {current}, which this tagwatch does not know "
            f"(latest is {head}); upgrade tagwatch"
        )
