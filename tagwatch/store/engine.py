"""Engines (SQLite pragmas, PostgreSQL via psycopg 3) and Alembic migrations (URLs: urls.py)."""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from tagwatch.errors import ConfigError, StoreError
from tagwatch.store.urls import DEFAULT_URL, HEAD_REVISION, database_url

if TYPE_CHECKING:  # alembic is imported only to migrate: it costs every CLI start ~0.1-0.3 s
    from alembic.config import Config

__all__ = [
    "DEFAULT_URL",
    "HEAD_REVISION",
    "current_revision",
    "database_url",
    "head_revision",
    "make_engine",
    "migrations_dir",
    "safe_url",
    "upgrade",
]

#: Where the Alembic scripts are when not found next to the package (see migrations_dir).
MIGRATIONS_ENV = "TAGWATCH_MIGRATIONS"
_SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Alembic keeps its running context in module globals: one migration at a time per process.
#: Across processes (replicas) env.py takes a PostgreSQL advisory lock.
_MIGRATING = threading.Lock()


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`: SQLite gets WAL, busy_timeout, foreign_keys and BEGIN IMMEDIATE."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() not in ("sqlite", "postgresql"):
            raise ConfigError(
                f"cannot use database URL {safe_url(url)}: tagwatch stores its history in "
                "SQLite (sqlite:///PATH) or PostgreSQL (postgresql://USER@HOST/DB)"
            )
        if parsed.get_backend_name() == "postgresql":
            kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", 10)
            # A long-running service outlives server restarts: test connections on checkout.
            kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:  # a bad URL: configuration
        raise ConfigError(f"cannot use database URL {safe_url(url)}: {_first_line(exc)}") from exc
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine)
    return engine


def _set_wal(cursor: Any) -> None:
    # Switching a new file to WAL needs an exclusive lock, and SQLite answers "database is
    # locked" at once (no busy handler) when replicas open an empty file together.
    for attempt in range(50):
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.05 + random.random() * 0.05)


def _sqlite_pragmas(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN until the first write, so a reader
    # that later writes can hit SQLITE_BUSY_SNAPSHOT instead of waiting. We switch it off
    # and open every transaction with BEGIN IMMEDIATE: writers queue on busy_timeout,
    # readers (WAL) never block. SQLAlchemy's documented recipe.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {_SQLITE_BUSY_TIMEOUT_MS}")
            _set_wal(cursor)
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def migrations_dir() -> Path:
    """The Alembic script directory, found without relying on the current directory.

    In order: `$TAGWATCH_MIGRATIONS`; `tagwatch/store/migrations` (where the wheel puts the
    repository's `migrations/`, see `force-include` in pyproject.toml); the repository's
    `migrations/` next to the `tagwatch` package (a source checkout or editable install).
    """
    candidates: list[Path] = []
    override = os.environ.get(MIGRATIONS_ENV)
    if override:
        candidates.append(Path(override))
    here = Path(__file__).resolve().parent
    candidates += [here / "migrations", here.parent.parent / "migrations"]
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise StoreError(
        f"cannot find the database migrations (looked in {searched}); set {MIGRATIONS_ENV}"
    )


def _config(url: str | None = None, connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # Passed as attributes, not main options, so that '%' in a password needs no escaping.
    config.attributes["url"] = url
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The latest revision in the migration scripts (reads them; see also HEAD_REVISION)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise StoreError("the migrations have no head revision")
    return head


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for a database Alembic has never touched.

    Read with plain SQL (what Alembic's MigrationContext does), so no Alembic import.
    """
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:
        raise StoreError(f"database has several schema revisions ({', '.join(versions)})")
    return versions[0] if versions else None


def run_migrations(connection: Connection, revision: str = "head", *, down: bool = False) -> None:
    """Upgrade (or downgrade) on an open connection, committing the result."""
    from alembic import command

    config = _config(connection=connection)
    with _MIGRATING:
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)
        if connection.in_transaction():
            connection.commit()


def upgrade(url: str, revision: str = "head") -> None:
    """`alembic upgrade head` on the database at `url`, from any working directory."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            run_migrations(connection, revision)
    except DBAPIError as exc:
        raise StoreError(f"cannot upgrade database {safe_url(url)}: {_first_line(exc)}") from exc
    except SQLAlchemyError as exc:
        raise StoreError(f"database {safe_url(url)}: {_first_line(exc)}") from exc
    finally:
        engine.dispose()


def downgrade(url: str, revision: str = "base") -> None:
    """`alembic downgrade` to `revision` (default: an empty database)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            run_migrations(connection, revision, down=True)
    except DBAPIError as exc:
        raise StoreError(f"cannot downgrade database {safe_url(url)}: {_first_line(exc)}") from exc
    finally:
        engine.dispose()
