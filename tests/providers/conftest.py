"""Provider fixtures: fake Hub and GitHub APIs, an HTTP client, and the store databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.store.conftest import pg_database, sqlite_template, store_url  # noqa: F401
from tests.support.github_api import FakeGitHubAPI
from tests.support.hub_api import FakeHubAPI


@pytest.fixture
def hub_api() -> Iterator[FakeHubAPI]:
    """A local Docker Hub tag API on a free loopback port."""
    fake = FakeHubAPI()
    yield fake
    fake.close()


@pytest.fixture
def github_api() -> Iterator[FakeGitHubAPI]:
    """A local GitHub Packages API on a free loopback port (`.token` is the valid token)."""
    fake = FakeGitHubAPI()
    yield fake
    fake.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client
