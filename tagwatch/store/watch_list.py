"""The watch list: `Watch`, and reading it from an up-to-date SQLite file without SQLAlchemy.

Why a second way to read one table: `tagwatch watch list` is to start in under 0.3 s, and
importing SQLAlchemy's ORM alone takes about 0.25 s. So on the embedded default (an SQLite
file already at this tagwatch's schema revision) the list is read with the standard
library's sqlite3, read-only. Anything else (no file yet, another revision, PostgreSQL, a URL
with options, any error) gives None, and the caller opens the `Store` as every other command
does: it migrates an empty database, or refuses one it cannot use, with the usual message.
tests/store/test_watch_list.py holds this reading to `StoreTx.watches()` on the same file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from tagwatch.core.references import ImageRef
from tagwatch.store.urls import HEAD_REVISION

__all__ = ["Watch", "read_sqlite_watches", "sqlite_path"]

#: The URL prefixes that name a file for SQLAlchemy's default SQLite driver.
_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
#: Wait for a writer's lock as long as the store does; a read needs it only while a
#: checkpoint runs.
_BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Watch:
    """A watched tag and how to watch it."""

    ref: ImageRef
    interval_seconds: int | None
    labels: Mapping[str, str]
    added_at: datetime


def sqlite_path(url: str) -> Path | None:
    """The file an SQLite URL names, as SQLAlchemy reads it; None for any other URL.

    `sqlite:///tagwatch.db` is relative to the current directory, `sqlite:////var/x.db`
    absolute. In-memory databases, query options and %-escapes are left to SQLAlchemy.
    """
    for prefix in _SQLITE_PREFIXES:
        if url.startswith(prefix):
            path = url[len(prefix) :]
            if not path or path == ":memory:" or "?" in path or "%" in path:
                return None
            return Path(path)
    return None


def read_sqlite_watches(url: str) -> list[Watch] | None:
    """The watches of the SQLite file at `url`, in the store's order; None when the file is
    missing, not at HEAD_REVISION, not SQLite, or cannot be read (open the Store instead)."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        # mode=ro: this path never creates, migrates or writes a database.
        connection = sqlite3.connect(
            f"file:{quote(str(path.absolute()))}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S
        )
    except sqlite3.Error:
        return None
    try:
        versions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        if versions != [(HEAD_REVISION,)]:
            return None
        rows = connection.execute(
            "SELECT registry, repository, tag, interval_seconds, labels, added_at FROM watches"
            " ORDER BY registry, repository, tag"
        ).fetchall()
        return [_watch(*row) for row in rows]
    except (sqlite3.Error, ValueError, TypeError):
        return None
    finally:
        connection.close()


def _watch(
    registry: str,
    repository: str,
    tag: str,
    interval_seconds: int | None,
    labels: str,
    added_at: str,
) -> Watch:
    # The store writes labels as SQLAlchemy's JSON (json.dumps) and added_at as naive UTC
    # text ("2026-12-01 12:39:53.123456"): see UTCDateTime in store/models.py.
    decoded = json.loads(labels)
    if not isinstance(decoded, dict):
        raise TypeError(f"labels of {registry}/{repository}:{tag} are not a JSON object")
    return Watch(
        ref=ImageRef(registry, repository, tag),
        interval_seconds=interval_seconds,
        labels={str(k): str(v) for k, v in decoded.items()},
        added_at=datetime.fromisoformat(added_at).replace(tzinfo=UTC),
    )
