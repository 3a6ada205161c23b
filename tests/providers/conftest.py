"""Provider fixtures: fake Hub and GitHub APIs, an HTTP client, moto for ECR's API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

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


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server (in a thread) on a free loopback port: ECR's API for describe_images."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Fake AWS credentials and AWS_ENDPOINT_URL_ECR pointing boto3 at moto."""
    for key, value in {
        "AWS_ENDPOINT_URL_ECR": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_url
