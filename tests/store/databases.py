"""Throwaway test databases: a fresh PostgreSQL database per session, SQLite files per test.

Reuse from other test packages: `from tests.store.databases import create_pg_database, ...`;
the fixtures on top of them (`store_url`, `store`, `pg_database`) are in tests/support/fixtures.py.
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

#: The server the tests use; each session creates (and drops) its own database on it.
PG_ADMIN_URL = os.environ.get(
    "TAGWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: Every tagwatch table, children first, for TRUNCATE between tests.
TABLES = (
    "build_platforms",
    "builds",
    "sightings",
    "watches",
    "outbox",
    "leases",
    "slack_threads",
    "signature_checks",
)


def require_postgres() -> None:
    """Fail (never skip) with a clear message when the PostgreSQL server is not reachable."""
    engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        pytest.fail(
            f"PostgreSQL is not reachable at {make_url(PG_ADMIN_URL).render_as_string()}: {first}. "
            "Start it (pg_ctlcluster 15 main start) or set TAGWATCH_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    finally:
        engine.dispose()


def create_pg_database(prefix: str = "tagwatch_t") -> str:
    """CREATE DATABASE <prefix>_<random> and return its URL (parallel runs never collide)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def truncate_pg(url: str) -> None:
    """Empty every tagwatch table (and restart ids), keeping the schema."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
