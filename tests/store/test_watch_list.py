"""Reading the watch list of an SQLite file without SQLAlchemy (store/watch_list.py).

It must give exactly what `StoreTx.watches()` gives for the same file, and give None (open the
Store instead) for anything it is not sure of, without ever creating or changing a file.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagwatch.core.references import ImageRef
from tagwatch.store import Store, upgrade
from tagwatch.store.urls import HEAD_REVISION
from tagwatch.store.watch_list import Watch, read_sqlite_watches, sqlite_path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "tagwatch.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def _store_watches(url: str) -> list[Watch]:
    with Store.open(url) as store, store.begin() as tx:
        return list(tx.watches())


def test_reads_what_the_store_reads_in_the_store_order(sqlite_url: str) -> None:
    with Store.open(sqlite_url) as store, store.begin() as tx:
        tx.add_watch(ImageRef.parse("nginx:1.27"), labels={"team": "web", "tier": "édge"})
        tx.add_watch(ImageRef.parse("ghcr.io/org/app:prod"), interval_seconds=300)
        tx.add_watch(ImageRef.parse("ghcr.io/org/app:canary"))
        tx.add_watch(ImageRef.parse("127.0.0.1:5000/a/b:c"), interval_seconds=60, labels={"k": ""})

    quick = read_sqlite_watches(sqlite_url)

    assert quick == _store_watches(sqlite_url)
    assert [str(w.ref) for w in quick or []] == [
        "127.0.0.1:5000/a/b:c",
        "docker.io/library/nginx:1.27",
        "ghcr.io/org/app:canary",
        "ghcr.io/org/app:prod",
    ]
    assert all(w.added_at.tzinfo is not None for w in quick or [])


def test_an_empty_up_to_date_database_is_an_empty_list(sqlite_url: str) -> None:
    assert read_sqlite_watches(sqlite_url) == []


_LABEL_TEXT = st.text(min_size=0, max_size=12)
_REF = r"[a-z0-9]{1,8}(/[a-z0-9]{1,8})?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,11}"
_WATCHES = st.dictionaries(
    st.from_regex(_REF, fullmatch=True),
    st.tuples(
        st.none() | st.integers(min_value=1, max_value=86_400 * 7),
        st.dictionaries(st.text(min_size=1, max_size=8), _LABEL_TEXT, max_size=3),
    ),
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(watches=_WATCHES)
def test_any_watch_list_reads_back_the_same(
    sqlite_url: str, watches: dict[str, tuple[int | None, dict[str, str]]]
) -> None:
    with Store.open(sqlite_url) as store, store.begin() as tx:
        for old in tx.watches():
            tx.remove_watch(old.ref)
        for raw, (interval, labels) in watches.items():
            tx.add_watch(ImageRef.parse(raw), interval_seconds=interval, labels=labels)

    assert read_sqlite_watches(sqlite_url) == _store_watches(sqlite_url)


def test_a_missing_file_is_left_to_the_store_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    assert read_sqlite_watches(f"sqlite:///{path}") is None
    assert not path.exists()


def test_a_database_at_an_older_revision_is_left_to_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002_sightings")
    assert read_sqlite_watches(url) is None


def test_a_database_with_another_revision_row_is_left_to_the_store(sqlite_url: str) -> None:
    path = sqlite_path(sqlite_url)
    assert path is not None
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
    assert read_sqlite_watches(sqlite_url) is None


def test_a_file_that_is_not_a_database_is_left_to_the_store(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not sqlite\n" * 100)
    assert read_sqlite_watches(f"sqlite:///{path}") is None
    assert path.read_text() == "not sqlite\n" * 100


def test_reading_writes_nothing(sqlite_url: str) -> None:
    path = sqlite_path(sqlite_url)
    assert path is not None
    before = {p.name: p.read_bytes() for p in path.parent.iterdir()}
    read_sqlite_watches(sqlite_url)
    after = {p.name: p.read_bytes() for p in path.parent.iterdir() if p.name in before}
    assert after == before


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///tagwatch.db", Path("tagwatch.db")),
        ("sqlite:////var/lib/tagwatch/tagwatch.db", Path("/var/lib/tagwatch/tagwatch.db")),
        ("sqlite+pysqlite:///data/t.db", Path("data/t.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///t.db?mode=ro", None),
        ("sqlite:///my%20db.db", None),
        ("sqlite+aiosqlite:///t.db", None),
        ("postgresql+psycopg://tagwatch@db/tagwatch", None),
    ],
)
def test_sqlite_path_names_the_file_only_of_a_plain_sqlite_url(url: str, path: Path | None) -> None:
    assert sqlite_path(url) == path


def test_head_revision_is_what_a_fresh_database_records(sqlite_url: str) -> None:
    path = sqlite_path(sqlite_url)
    assert path is not None
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
