"""Platform-true skew end to end: indexes in the test registry, nodes of two platforms, the CLI.

The fixture cluster is read by the real kubectl too, so its node platforms stay honest.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tagwatch.app.context import open_store
from tagwatch.app.skew import scan_skew
from tagwatch.cluster import ClusterSettings, connect
from tagwatch.registry import RegistryClient
from tests.support.cluster import Cli, Kube, Recorder, web_on_nodes
from tests.support.registry import TestRegistry

M = timedelta(minutes=1)


def _kubectl_platforms(k: Kube) -> dict[str, str]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed: the fixture API server is checked against it")
    out = subprocess.run(
        [kubectl, "--kubeconfig", str(k.kubeconfig), "get", "nodes", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(k.kubeconfig.parent), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return {
        n["metadata"]["name"]: n["status"]["nodeInfo"]["architecture"]
        for n in json.loads(out.stdout)["items"]
    }


def _pods(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    workloads: list[dict[str, Any]] = report["workloads"]
    [web] = [w for w in workloads if w["name"] == "web"]
    return {p["name"]: p for p in web["pods"]}


def _only(report: dict[str, Any]) -> dict[str, Any]:
    workloads: list[dict[str, Any]] = report["workloads"]
    [web] = [w for w in workloads if w["name"] == "web"]
    return web


def test_an_index_pushed_twice_with_the_same_platform_images_is_no_skew_and_says_so(
    registry: TestRegistry,
    repo_name: str,
    recorder: Recorder,
    kube: Callable[..., Kube],
    cli: Cli,
    t0: datetime,
) -> None:
    ref = f"{registry.host}/{repo_name}:prod"
    name = f"{registry.host}/{repo_name}"
    images = {"linux/amd64": "amd", "linux/arm64/v8": "arm"}
    first = registry.push_index(repo_name, "prod", images, built_at="2026-11-30T10:00:00Z")
    recorder.check([ref], t0)
    recorder.check([ref], t0 + 20 * M)
    again = registry.push_index(repo_name, "prod", images, built_at="2026-11-30T11:00:00Z")
    assert again != first
    entries = [
        json.loads(registry.get_manifest(repo_name, d)[0])["manifests"] for d in (first, again)
    ]
    # the platform entries are equal; only the attestation entries differ
    assert entries[0][:2] == entries[1][:2] and entries[0][2:] != entries[1][2:]
    [moved] = cli.json("check", ref, code=0)
    assert (moved["change"], moved["same_images"]) == ("moved", True)
    history = cli.json("history", ref, code=0)
    assert [(m["change"], m["same_images"]) for m in history] == [
        ("first_seen", False),
        ("moved", True),
    ]
    rows = list(csv.DictReader(io.StringIO(cli("history", ref, "-o", "csv", code=0).stdout)))
    assert [r["same_images"] for r in rows] == ["False", "True"]

    k = kube(
        web_on_nodes(
            ref,
            [
                ("web-a", "amd-1", t0 + 5 * M, f"{name}@{first}"),
                ("web-b", "arm-1", t0 + 5 * M, f"{name}@{first}"),
                ("web-c", "amd-2", t0 + 100 * M, f"{name}@{again}"),
            ],
        )
    )
    assert _kubectl_platforms(k) == {"amd-1": "amd64", "amd-2": "amd64", "arm-1": "arm64"}
    report = cli.json("skew", "-A", "--offline", "--kubeconfig", str(k.kubeconfig), code=0)
    web = _only(report)
    assert (web["skewed"], web["at_risk"]) == (False, False)
    assert any("same platform images" in r for r in web["reasons"])
    children = registry.child_digests(repo_name, again)
    pods = _pods(report)
    assert {n: (p["platform"], p["platform_image"], p["state"]) for n, p in pods.items()} == {
        "web-a": ("linux/amd64", str(children["linux/amd64"]), "current"),
        "web-b": ("linux/arm64/v8", str(children["linux/arm64/v8"]), "current"),
        "web-c": ("linux/amd64", str(children["linux/amd64"]), "current"),
    }


def test_one_index_on_two_platforms_is_no_skew_but_two_amd64_children_are(
    registry: TestRegistry,
    repo_name: str,
    recorder: Recorder,
    kube: Callable[..., Kube],
    cli: Cli,
    t0: datetime,
) -> None:
    ref = f"{registry.host}/{repo_name}:prod"
    name = f"{registry.host}/{repo_name}"
    old = registry.push_index(repo_name, "prod", {"linux/amd64": "a1", "linux/arm64": "r1"})
    recorder.check([ref], t0)
    recorder.check([ref], t0 + 20 * M)
    together = kube(
        web_on_nodes(
            ref,
            [
                ("web-a", "amd-1", t0 + 5 * M, f"{name}@{old}"),
                ("web-b", "arm-1", t0 + 5 * M, f"{name}@{old}"),
            ],
        )
    )
    report = cli.json("skew", "-A", "--offline", "--kubeconfig", str(together.kubeconfig), code=0)
    assert _only(report)["skewed"] is False
    assert _only(report)["digests"] == {str(old): ["web-a", "web-b"]}

    new = registry.push_index(repo_name, "prod", {"linux/amd64": "a2", "linux/arm64": "r2"})
    recorder.check([ref], t0 + 30 * M)
    amd_old = registry.child_digests(repo_name, old)["linux/amd64"]
    amd_new = registry.child_digests(repo_name, new)["linux/amd64"]
    apart = kube(
        web_on_nodes(
            ref,
            [
                ("web-a", "amd-1", t0 + 5 * M, f"docker-pullable://{name}@{amd_old}"),
                ("web-b", "amd-2", t0 + 40 * M, f"docker-pullable://{name}@{amd_new}"),
            ],
        )
    )
    report = cli.json("skew", "-A", "--offline", "--kubeconfig", str(apart.kubeconfig), code=1)
    web = _only(report)
    assert web["skewed"] is True
    assert any("silent skew" in r for r in web["reasons"])
    pods = _pods(report)
    assert (pods["web-a"]["state"], pods["web-b"]["state"]) == ("stale", "current")
    assert pods["web-a"]["platform_image"] == str(amd_old)


def test_a_pinned_index_never_recorded_is_fetched_with_one_get_then_read_offline(
    registry: TestRegistry,
    repo_name: str,
    kube: Callable[..., Kube],
    cli: Cli,
    db: str,
    t0: datetime,
) -> None:
    name = f"{registry.host}/{repo_name}"
    pinned = registry.push_index(repo_name, None, {"linux/amd64": "p1", "linux/arm64/v8": "p2"})
    image = f"{name}@{pinned}"
    k = kube(
        web_on_nodes(
            image,
            [
                ("web-a", "amd-1", t0 + 5 * M, image),
                ("web-b", "arm-1", t0 + 5 * M, image),
            ],
        )
    )
    requests: list[httpx.Request] = []

    async def count(request: httpx.Request) -> None:
        requests.append(request)

    async def scan() -> Any:
        store = open_store(db)
        cluster = connect(ClusterSettings(kubeconfig=str(k.kubeconfig)))
        try:
            async with (
                httpx.AsyncClient(event_hooks={"request": [count]}) as http,
                RegistryClient(http=http) as client,
            ):
                return await scan_skew(
                    cluster=cluster, store=store, registry=client, namespace=None
                )
        finally:
            await cluster.close()
            store.close()

    result = asyncio.run(scan())
    assert result.refresh_errors == ()
    assert [(r.method, r.url.path) for r in requests] == [
        ("GET", f"/v2/{repo_name}/manifests/{pinned}")
    ]
    children = registry.child_digests(repo_name, pinned)
    [finding] = result.report.findings
    assert [p.platform_image for p in finding.pods] == [
        children["linux/amd64"],
        children["linux/arm64/v8"],
    ]

    report = cli.json("skew", "-A", "--offline", "--kubeconfig", str(k.kubeconfig), code=0)
    pods = _pods(report)
    assert pods["web-a"]["platform_image"] == str(children["linux/amd64"])
    assert pods["web-b"]["platform_image"] == str(children["linux/arm64/v8"])
    assert {p["state"] for p in pods.values()} == {"current"}
