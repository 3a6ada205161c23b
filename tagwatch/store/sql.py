"""Statement helpers every part of the repository shares: dialect inserts, aware times, chunks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Insert
from sqlalchemy.orm import Session

from tagwatch.errors import StoreError
from tagwatch.store.models import Base

if TYPE_CHECKING:  # imported when first used: the PostgreSQL dialect costs an SQLite start
    from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["CHUNK", "aware", "chunks", "insert", "returned"]

#: Refs per `IN` list: 3 parameters each stays far below SQLite's and PostgreSQL's limits.
CHUNK = 1000
_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def aware(when: datetime) -> datetime:
    """`when` in UTC; a naive time is a caller's bug (which zone was meant is unknown)."""
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: pass timezone-aware UTC times")
    return when.astimezone(UTC)


def insert(session: Session, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """INSERT for the session's dialect: both have ON CONFLICT and RETURNING (SQLite >= 3.35)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(model)
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(model)
    raise StoreError(f"unsupported database {dialect!r}: use SQLite or PostgreSQL")


def returned(session: Session, statement: Insert) -> Any:
    """The one value a statement's RETURNING gives, or None when it inserted nothing."""
    return session.execute(statement).scalar_one_or_none()
