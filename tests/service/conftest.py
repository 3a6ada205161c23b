"""Fixtures for the service tests: a fake Slack that can hang, and a running service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tagwatch.app.settings import load_settings
from tests.support.registry import TestRegistry
from tests.support.services import Running, running, service_config
from tests.support.slack import FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(hang_seconds=30)
    yield fake
    fake.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The service's database, once on SQLite and once on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tw.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def svc(
    registry: TestRegistry, repo_name: str, tmp_path: Path, secrets_env: None
) -> AsyncIterator[Running]:
    """The service started in-process, watching `<registry>/<repo_name>:v1` (pushed, hourly)."""
    registry.push_image(repo_name, "v1", content="one")
    path = service_config(
        tmp_path,
        db=f"sqlite:///{tmp_path / 'tw.db'}",
        watches=[{"ref": f"{registry.host}/{repo_name}:v1", "interval": "1h"}],
    )
    async with running(load_settings(path)) as handle:
        yield handle
