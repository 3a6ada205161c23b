"""The store: SQLAlchemy schema, Alembic migrations and the repository returning core objects.

    store = Store.open(database_url(raw))        # empty database: migrated; older: StoreError
    with store.begin() as tx:                    # one transaction, committed when the block ends
        move = classify(tx.history(ref), observation)
        tx.record(observation, move)

SQLite (`sqlite:///tagwatch.db`, the default) runs with WAL, busy_timeout and foreign keys,
and opens every transaction with BEGIN IMMEDIATE (writers queue, readers never block).
PostgreSQL (`postgresql://…`, via psycopg 3) is for several replicas: recording a move is
safe under concurrency (unique per-tag `seq`), the outbox is claimed FOR UPDATE SKIP LOCKED,
and leases are one atomic upsert. Migrations live in the repository's `migrations/`; the
wheel ships them as `tagwatch/store/migrations` (or set $TAGWATCH_MIGRATIONS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tagwatch.lazy_exports import module_getattr

# Importing the package does not import SQLAlchemy: a name is loaded from its module when it
# is first used, so `watch list` can read an SQLite file through store/watch_list.py alone.
if TYPE_CHECKING:
    from tagwatch.store.database import Store
    from tagwatch.store.engine import downgrade, upgrade
    from tagwatch.store.repository import OutboxItem, StoreTx
    from tagwatch.store.threads import SlackThreads
    from tagwatch.store.urls import database_url
    from tagwatch.store.watch_list import Watch

_HOMES = {
    "OutboxItem": "tagwatch.store.repository",
    "SlackThreads": "tagwatch.store.threads",
    "Store": "tagwatch.store.database",
    "StoreTx": "tagwatch.store.repository",
    "Watch": "tagwatch.store.watch_list",
    "database_url": "tagwatch.store.urls",
    "downgrade": "tagwatch.store.engine",
    "upgrade": "tagwatch.store.engine",
}

__all__ = [
    "OutboxItem",
    "SlackThreads",
    "Store",
    "StoreTx",
    "Watch",
    "database_url",
    "downgrade",
    "upgrade",
]


if not TYPE_CHECKING:  # to a type checker, the names are the imports above, no others
    __getattr__ = module_getattr(__name__, _HOMES)
