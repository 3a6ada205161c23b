"""Database URLs as the user writes them, and the schema revision this tagwatch writes.

Plain strings, no SQLAlchemy: `watch list` reads an SQLite file without importing it (see
`store/sqlite_watches.py`), and needs the URL and the revision to know when it may.
"""

from __future__ import annotations

__all__ = ["DEFAULT_URL", "HEAD_REVISION", "database_url"]

DEFAULT_URL = "sqlite:///tagwatch.db"
#: The latest migration, so that opening an up-to-date database needs no Alembic import.
#: A test checks it against migrations/; update it with every new migration.
HEAD_REVISION = "0016_image_bases"


def database_url(raw: str | None) -> str:
    """The SQLAlchemy URL for `raw`: None means `sqlite:///tagwatch.db` in the current directory.

    `postgres://` and `postgresql://` use psycopg 3 (`postgresql+psycopg://`); a bare path
    means an SQLite file.
    """
    if raw is None or not raw.strip():
        return DEFAULT_URL
    url = raw.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if "://" not in url:
        return f"sqlite:///{url}"
    return url
