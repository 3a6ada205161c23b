"""The shared fixtures, one pytest plugin (registered in tests/conftest.py) for every package.

- the real test registries: `registry` (no auth), `basic_registry`, `token_registry`, one
  process each per session; `repo_name` for isolation; `make_registry` for a dedicated one;
- the databases: `store_url` (a migrated, empty SQLite file or the session's PostgreSQL
  database: `pg_database`, created once per session), `store` open on it, `empty_url` (no
  schema at all), `sqlite_template`, and `pg_url` (a fresh empty PostgreSQL database);
- `kube`: the Kubernetes API test server with a kubeconfig pointing at it;
- `secrets_env`: the secrets the service configs of `tests.support.services` name.

A package's conftest.py adds only what that package alone uses.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tagwatch.store import Store, upgrade
from tests.store.databases import (
    create_pg_database,
    drop_pg_database,
    require_postgres,
    truncate_pg,
)
from tests.support.cluster import Kube
from tests.support.kubeapi import FakeKubeAPI, KubeContext, write_kubeconfig
from tests.support.registry import TestRegistry, skopeo_digest
from tests.support.services import (
    GITHUB_SECRET,
    GITHUB_SECRET_ENV,
    HOOK_SECRET,
    HOOK_SECRET_ENV,
    SLACK_ENV,
)
from tests.support.slack import VALID_TOKEN

# -- registries ------------------------------------------------------------------------------

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


# -- databases -------------------------------------------------------------------------------

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, migrated to head; dropped at the end."""
    require_postgres()
    url = create_pg_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "tagwatch.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database with no rows: a fresh SQLite file, or the session PostgreSQL database."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "tagwatch.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
    else:
        url: str = request.getfixturevalue("pg_database")
        truncate_pg(url)
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store.open(store_url)
    yield opened
    opened.close()


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    require_postgres()
    url = create_pg_database("tagwatch_t_empty")
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (the service migrates it)."""
    require_postgres()
    url = create_pg_database("tagwatch_svc")
    yield url
    drop_pg_database(url)


# -- Kubernetes ------------------------------------------------------------------------------


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[Callable[..., Kube]]:
    """`kube(objects, token=None, forbidden=(), namespace=None)` -> a started Kube."""
    started: list[FakeKubeAPI] = []

    def make(
        objects: list[dict[str, Any]],
        *,
        token: str | None = None,
        client_token: str | None = None,
        forbidden: tuple[str, ...] = (),
        namespace: str | None = None,
    ) -> Kube:
        api = FakeKubeAPI(objects, token=token, forbidden=forbidden).start()
        started.append(api)
        path = tmp_path / f"kubeconfig-{len(started)}"
        write_kubeconfig(
            path,
            [
                KubeContext(
                    "fake",
                    api.url,
                    token=client_token if client_token is not None else token,
                    namespace=namespace,
                )
            ],
        )
        return Kube(api, path)

    yield make
    for api in started:
        api.stop()


# -- service secrets -------------------------------------------------------------------------


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SLACK_ENV, VALID_TOKEN)
    monkeypatch.setenv(HOOK_SECRET_ENV, HOOK_SECRET)
    monkeypatch.setenv(GITHUB_SECRET_ENV, GITHUB_SECRET)
