"""Opening an up-to-date database is cheap: no Alembic import, the head revision is known."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import create_engine

from tagwatch.store import upgrade
from tagwatch.store.engine import HEAD_REVISION, current_revision, head_revision

_OPEN_WITHOUT_ALEMBIC = """
import sys
from tagwatch.store import Store
with Store.open(sys.argv[1]) as store, store.begin() as tx:
    tx.watches()
loaded = sorted(m for m in sys.modules if m == "alembic" or m.startswith("alembic."))
print(" ".join(loaded))
"""


def test_head_revision_constant_names_the_latest_migration() -> None:
    assert head_revision() == HEAD_REVISION, (
        "a migration was added: set tagwatch.store.urls.HEAD_REVISION to its revision"
    )


def test_opening_an_up_to_date_database_does_not_import_alembic(store_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _OPEN_WITHOUT_ALEMBIC, store_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_current_revision_reads_none_then_each_revision(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        with engine.connect() as connection:
            assert current_revision(connection) is None
        upgrade(empty_url, "0002_sightings")
        with engine.connect() as connection:
            assert current_revision(connection) == "0002_sightings"
        upgrade(empty_url)
        with engine.connect() as connection:
            assert current_revision(connection) == HEAD_REVISION
    finally:
        engine.dispose()
