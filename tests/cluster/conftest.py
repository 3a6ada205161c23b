"""Cluster test fixtures: a database per test, a history recorder, a CLI runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.cluster import Cli, ProdTag, Recorder
from tests.support.registry import TestRegistry


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tagwatch.db'}"


@pytest.fixture
def recorder(db: str) -> Recorder:
    return Recorder(db)


@pytest.fixture
def t0() -> datetime:
    """Two hours ago, to the second: the first check of every timeline."""
    return (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)


@pytest.fixture
def cli(db: str) -> Cli:
    return Cli(db)


@pytest.fixture
def prod(registry: TestRegistry, repo_name: str, recorder: Recorder) -> ProdTag:
    """The test's `<registry>/<repo_name>:prod`, pushed and recorded by the scenario."""
    return ProdTag(registry, repo_name, recorder)
