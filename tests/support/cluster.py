"""Cluster test helpers: a running Kubernetes API test server, a history recorder, a CLI runner."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tagwatch.app.check import CheckResult, run_check
from tagwatch.app.context import open_store, registry_client
from tagwatch.cli.main import app
from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tests.support import kube_fixtures as kf
from tests.support.kube_fixtures import C
from tests.support.kubeapi import FakeKubeAPI
from tests.support.registry import TestRegistry

__all__ = ["PLATFORM_NODES", "Cli", "Kube", "ProdTag", "Recorder", "web_on_nodes"]

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


class Cli:
    """`tagwatch` against one database (`--db`); `code` asserts the exit code."""

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


class ProdTag:
    """`<test registry>/<repo>:prod`, pushed and recorded as a scenario says: `push("v1", at=t0)`
    pushes an image and records the check at `t0`; `ref` is the tag, `name` the repository."""

    def __init__(self, registry: TestRegistry, repo_name: str, recorder: Recorder) -> None:
        self.registry = registry
        self.repo_name = repo_name
        self.recorder = recorder
        self.name = f"{registry.host}/{repo_name}"
        self.ref = f"{self.name}:prod"

    def push(
        self, content: str, *, at: datetime | None = None, labels: dict[str, str] | None = None
    ) -> Digest:
        """Push an image holding `content` (with OCI `labels`) to the tag; with `at`, record a
        check at that time."""
        pushed = self.registry.push_image(self.repo_name, "prod", content=content, labels=labels)
        return self._recorded(pushed, at)

    def check(self, at: datetime) -> None:
        """Record a check of the tag at `at`: it finds what the tag points to now."""
        self.recorder.check([self.ref], at)

    def push_index(
        self, platforms: dict[str, str], *, at: datetime | None = None, built_at: str | None = None
    ) -> Digest:
        """Push an index of one image per platform ("os/arch[/variant]" -> content) to the tag;
        with `at`, record a check at that time."""
        return self._recorded(
            self.registry.push_index(self.repo_name, "prod", platforms, built_at=built_at), at
        )

    def _recorded(self, digest: Digest, at: datetime | None) -> Digest:
        if at is not None:
            self.check(at)
        return digest

    def children(self, index: Digest) -> dict[str, str]:
        """Platform -> the digest of `index`'s image for it, as the JSON reports spell it."""
        return {p: str(d) for p, d in self.registry.child_digests(self.repo_name, index).items()}

    def pod_image(self, digest: Digest | str, form: kf.ImageIdForm = "containerd") -> str:
        """The imageID a pod running `digest` of this repository reports, as `form`'s runtime
        spells it."""
        return kf.image_id(self.name, str(digest), form)
