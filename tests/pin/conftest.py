"""Pin/lint/drift fixtures: an SQLite database per test and a CLI runner that checks exit codes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tagwatch.cli.main import app

Run = Callable[..., Result]


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database in tmp_path (a copy of the session's template)."""
    path = tmp_path / "tagwatch.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def run(db: str) -> Run:
    """`run(*args, code=0)`: invoke `tagwatch` with `--db`, assert the exit code, return it."""
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, with_db: bool = True) -> Result:
        argv = [*args, "--db", db] if with_db else list(args)
        result = runner.invoke(app, argv, catch_exceptions=False)
        assert result.exit_code == code, f"exit {result.exit_code}\n{result.output}"
        return result

    return invoke


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)
