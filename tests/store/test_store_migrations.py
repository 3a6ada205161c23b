"""Migrations: up from empty, down to base and up again, agreement with the models, open errors."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from tagwatch.errors import StoreError
from tagwatch.store import Store, database_url, downgrade, upgrade
from tagwatch.store.engine import head_revision, known_revisions, migrations_dir
from tagwatch.store.models import Base

REPO = Path(__file__).resolve().parents[2]
TABLES = {
    "watches",
    "sightings",
    "builds",
    "build_platforms",
    "outbox",
    "leases",
    "slack_threads",
    "signature_checks",
    "move_events",
    "episodes",
    "cluster_findings",
    "image_layers",
    "image_bases",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def test_empty_database_is_upgraded_when_opened(empty_url: str) -> None:
    assert _tables(empty_url) == set()
    Store.open(empty_url).close()
    assert _tables(empty_url) == TABLES
    assert _revision(empty_url) == head_revision()


def test_migrations_go_down_to_base_and_up_again(empty_url: str) -> None:
    upgrade(empty_url)
    assert _tables(empty_url) == TABLES
    downgrade(empty_url, "base")
    assert _tables(empty_url) == set()
    assert _revision(empty_url) is None
    upgrade(empty_url)
    assert _tables(empty_url) == TABLES
    assert _revision(empty_url) == head_revision()


def test_each_migration_steps_down_and_up_one_at_a_time(empty_url: str) -> None:
    upgrade(empty_url)
    seen = []
    while (current := _revision(empty_url)) is not None:
        seen.append(current)
        downgrade(empty_url, "-1")
    # every script once, from head to base
    assert len(seen) == len(known_revisions()) >= 8
    for expected in reversed(seen):
        upgrade(empty_url, "+1")
        assert _revision(empty_url) == expected


def test_models_and_migrations_agree(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_an_older_revision_refuses_to_open_and_says_how_to_upgrade(empty_url: str) -> None:
    upgrade(empty_url, "0005_outbox")
    with pytest.raises(StoreError) as raised:
        Store.open(empty_url)
    assert str(raised.value) == "database is at revision 0005_outbox; run `tagwatch db upgrade`"
    upgrade(empty_url)
    Store.open(empty_url).close()


def test_an_empty_database_is_not_migrated_when_migrate_is_false(empty_url: str) -> None:
    with pytest.raises(StoreError, match="is empty; run `tagwatch db upgrade`"):
        Store.open(empty_url, migrate=False)
    assert _tables(empty_url) == set()


def test_unreachable_postgresql_gives_a_one_line_error_without_the_password() -> None:
    url = database_url("postgresql://tagwatch:s3cret-pw@127.0.0.1:1/tagwatch")
    with pytest.raises(StoreError) as raised:
        Store.open(url)
    message = str(raised.value)
    assert "\n" not in message
    assert "s3cret-pw" not in message
    assert message.startswith("cannot open database postgresql+psycopg://tagwatch:***@127.0.0.1:1/")


def test_an_unwritable_sqlite_path_gives_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unable to open database file"):
        Store.open(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")


def test_upgrade_finds_the_migrations_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    upgrade(database_url(None))  # sqlite:///tagwatch.db in the current directory
    assert _tables(f"sqlite:///{tmp_path / 'tagwatch.db'}") == TABLES
    assert migrations_dir() == REPO / "migrations"


def test_migrations_dir_can_be_set_by_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "migrations"
    copy.mkdir()
    (copy / "env.py").write_text("")
    monkeypatch.setenv("TAGWATCH_MIGRATIONS", str(copy))
    assert migrations_dir() == copy


def test_alembic_command_line_takes_the_url_from_x_argument(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    subprocess.run(
        [sys.executable, "-m", "alembic", "-x", f"url={url}", "upgrade", "head"],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    assert _tables(url) == TABLES


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "sqlite:///tagwatch.db"),
        ("", "sqlite:///tagwatch.db"),
        ("postgres://u@db/tw", "postgresql+psycopg://u@db/tw"),
        ("postgresql://u:p@db:5432/tw", "postgresql+psycopg://u:p@db:5432/tw"),
        ("postgresql+psycopg://u@db/tw", "postgresql+psycopg://u@db/tw"),
        ("sqlite:////var/lib/tagwatch/t.db", "sqlite:////var/lib/tagwatch/t.db"),
        ("data/t.db", "sqlite:///data/t.db"),
    ],
)
def test_database_url_defaults_to_sqlite_and_maps_postgres_to_psycopg(
    raw: str | None, expected: str
) -> None:
    assert database_url(raw) == expected


def test_the_wheel_ships_the_migrations_where_migrations_dir_looks() -> None:
    import tomllib

    import tagwatch.store.engine

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    force_include = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    looked_at = Path(tagwatch.store.engine.__file__).parent / "migrations"
    assert force_include["migrations"] == looked_at.relative_to(REPO).as_posix()


def test_a_database_from_a_newer_tagwatch_is_refused(empty_url: str) -> None:
    upgrade(empty_url)
    engine = create_engine(empty_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision 0099_future, which this tagwatch does not know"):
        Store.open(empty_url)


def test_threads_opening_an_empty_database_together_migrate_it_once(empty_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3, timeout=20)

    def open_it() -> None:
        try:
            barrier.wait()
            Store.open(empty_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert _revision(empty_url) == head_revision()


def test_replicas_starting_together_on_an_empty_database_migrate_it_once(empty_url: str) -> None:
    # Each replica imports first, then waits for the same instant, so the migrations overlap.
    code = (
        "import sys, time; from tagwatch.store import Store; "
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); "
        "Store.open(sys.argv[1]).close()"
    )
    start = str(time.time() + 3)
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", code, empty_url, start],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [(r.wait(60), r.communicate()[1]) for r in replicas]
    assert outcomes == [(0, "")] * 3
    assert _revision(empty_url) == head_revision()


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 't.db'}") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(IntegrityError):
            conn.exec_driver_sql(
                "INSERT INTO build_platforms (index_digest, platform, child_digest) "
                "VALUES ('sha256:none', 'linux/amd64', 'sha256:child')"
            )


def test_the_public_api_is_what_others_build_on() -> None:
    import tagwatch.store

    assert set(tagwatch.store.__all__) == {
        "OutboxItem",
        "SlackThreads",
        "Store",
        "StoreTx",
        "Watch",
        "database_url",
        "downgrade",
        "upgrade",
    }
