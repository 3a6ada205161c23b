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

from tagwatch.store.database import Store
from tagwatch.store.engine import database_url, downgrade, upgrade
from tagwatch.store.repository import OutboxItem, StoreTx, Watch
from tagwatch.store.threads import SlackThreads

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
