"""Shared fixtures: the real test registries (no auth, Basic, token) and unique repository names."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.registry import TestRegistry, skopeo_digest

_repo_counter = itertools.count()


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository name no other test uses: `t/<test name>-<pid>-<n>`."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())
    base = "-".join(part for part in base.split("-") if part)[:60] or "repo"
    return f"t/{base}-{os.getpid()}-{next(_repo_counter)}"


def _keep_running(reg: TestRegistry) -> Iterator[TestRegistry]:
    if reg.issuer is not None:
        reg.issuer.reset()
    reg.start()
    yield reg
    reg.start()  # a test that stopped it to simulate an outage leaves it running for the next
    if reg.issuer is not None:
        reg.issuer.reset()


@pytest.fixture(scope="session")
def _registry_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestRegistry]:
    reg = TestRegistry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def _basic_registry_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestRegistry]:
    reg = TestRegistry(tmp_path_factory.mktemp("basic-registry"), auth="basic")
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def _token_registry_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestRegistry]:
    reg = TestRegistry(tmp_path_factory.mktemp("token-registry"), auth="token")
    yield reg
    reg.close()


@pytest.fixture
def registry(_registry_session: TestRegistry) -> Iterator[TestRegistry]:
    """docker-registry without auth (one process per session; use `repo_name` for isolation)."""
    yield from _keep_running(_registry_session)


@pytest.fixture
def basic_registry(_basic_registry_session: TestRegistry) -> Iterator[TestRegistry]:
    """docker-registry with htpasswd Basic auth; `.username`/`.password` are valid."""
    yield from _keep_running(_basic_registry_session)


@pytest.fixture
def token_registry(_token_registry_session: TestRegistry) -> Iterator[TestRegistry]:
    """docker-registry with token auth; `.issuer` is the TokenIssuer (reset for each test)."""
    yield from _keep_running(_token_registry_session)


@pytest.fixture
def skopeo() -> Callable[..., str]:
    """`skopeo(ref, creds=None)` -> the digest skopeo resolves for docker://ref."""
    return skopeo_digest


@pytest.fixture
def make_registry(tmp_path: Path) -> Iterator[Callable[..., TestRegistry]]:
    """Build a dedicated registry for one test (e.g. a token realm on another host name)."""
    made: list[TestRegistry] = []

    def make(**kwargs: object) -> TestRegistry:
        reg = TestRegistry(tmp_path / f"registry-{len(made)}", **kwargs)  # type: ignore[arg-type]
        made.append(reg)
        return reg

    yield make
    for reg in made:
        reg.close()
