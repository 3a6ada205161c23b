"""Cluster test fixtures: a fake API server and kubeconfig, a database, a history recorder."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tagwatch.app.check import CheckResult, run_check
from tagwatch.app.context import open_store, registry_client
from tagwatch.cli.main import app
from tagwatch.core.references import ImageRef
from tests.support import kube_fixtures as kf
from tests.support.kube_fixtures import C
from tests.support.kubeapi import FakeKubeAPI, KubeContext, write_kubeconfig

#: Two amd64 nodes and one arm64/v8 node, for platform-true skew and verify.
PLATFORM_NODES = [kf.node("amd-1"), kf.node("amd-2"), kf.node("arm-1", arch="arm64", variant="v8")]


def web_on_nodes(image: str, pods: list[tuple[str, str, datetime, str]]) -> list[dict[str, Any]]:
    """A Deployment `web` in `shop`, its ReplicaSet and pods given as (name, node, started,
    imageID), on PLATFORM_NODES."""
    objs = [
        kf.deployment("web", "shop", containers=[C("web", image)], replicas=len(pods)),
        kf.replicaset(
            "web-5d8f", "shop", deployment="web", template_hash="5d8f", containers=[C("web", image)]
        ),
    ]
    for name, node, started, image_id in pods:
        objs.append(
            kf.pod(
                name,
                "shop",
                owner=("ReplicaSet", "web-5d8f"),
                template_hash="5d8f",
                node=node,
                containers=[C("web", image, image_id, started)],
            )
        )
    return [*objs, *PLATFORM_NODES]


class Kube:
    """A running fake API server and a kubeconfig pointing at it."""

    def __init__(self, api: FakeKubeAPI, kubeconfig: Path) -> None:
        self.api = api
        self.kubeconfig = kubeconfig


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


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tagwatch.db'}"


class Recorder:
    """Records tag histories from the real test registry with chosen check times."""

    def __init__(self, db: str) -> None:
        self.db = db

    def check(self, refs: list[str], at: datetime) -> list[CheckResult]:
        async def go() -> list[CheckResult]:
            store = open_store(self.db)
            try:
                async with registry_client() as registry:
                    return await run_check(
                        [ImageRef.parse(r) for r in refs],
                        registry=registry,
                        store=store,
                        now=lambda: at,
                    )
            finally:
                store.close()

        results = asyncio.run(go())
        assert all(r.error is None for r in results), [r.error for r in results]
        return results


@pytest.fixture
def recorder(db: str) -> Recorder:
    return Recorder(db)


@pytest.fixture
def t0() -> datetime:
    """Two hours ago, to the second: the first check of every timeline."""
    return (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)


class Cli:
    def __init__(self, db: str) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int | None = None) -> Any:
        result = self.runner.invoke(app, [*args, "--db", self.db], catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, (result.exit_code, result.output)
        return result

    def json(self, *args: str, code: int | None = None) -> Any:
        result = self(*args, "-o", "json", code=code)
        return json.loads(result.stdout)


@pytest.fixture
def cli(db: str) -> Cli:
    return Cli(db)
