"""The store: SQLAlchemy schema, Alembic migrations and the repository returning core objects."""

from tagwatch.store.engine import database_url, downgrade, upgrade
from tagwatch.store.repository import OutboxItem, Store, StoreTx, Watch

__all__ = ["OutboxItem", "Store", "StoreTx", "Watch", "database_url", "downgrade", "upgrade"]
