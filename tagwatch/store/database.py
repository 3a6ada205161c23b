"""The database tagwatch keeps: opening it (an empty one migrated) and one transaction at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import sessionmaker

from tagwatch.errors import StoreError
from tagwatch.store.engine import _first_line, make_engine, safe_url
from tagwatch.store.repository import StoreTx
from tagwatch.store.schema import check_schema

__all__ = ["Store"]

#: PostgreSQL's SQLSTATE for "permission denied" (a GRANT missing for the service's role).
_INSUFFICIENT_PRIVILEGE = "42501"


class Store:
    """A database holding tagwatch's history, builds, outbox and leases."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Open the database at `url`; an empty one is migrated to the latest schema.

        Raises StoreError when the database cannot be reached, or is at another revision
        (run `tagwatch db upgrade`).
        """
        engine = make_engine(url)
        try:
            check_schema(engine, url, migrate=migrate)
        except DBAPIError as exc:
            engine.dispose()
            raise StoreError(f"cannot open database {safe_url(url)}: {_first_line(exc)}") from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @contextmanager
    def begin(self) -> Iterator[StoreTx]:
        """One transaction: commits when the block ends, rolls back when it raises."""
        try:
            with self._sessions.begin() as session:
                yield StoreTx(session)
        except DBAPIError as exc:
            # The server gone, or refusing this role a table: the database failed, not our
            # SQL. Anything else (a constraint, a syntax error) is a bug and stays as it is.
            refused = getattr(exc.orig, "sqlstate", None) == _INSUFFICIENT_PRIVILEGE
            if not (refused or isinstance(exc, (OperationalError, InterfaceError))):
                raise
            where = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(f"database {where}: {_first_line(exc)}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
