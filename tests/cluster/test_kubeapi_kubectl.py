"""The fake API server and its fixtures, checked by the real kubectl so that they stay honest."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support import kube_fixtures as kf
from tests.support.kube_fixtures import C
from tests.support.kubeapi import FakeKubeAPI, KubeContext, write_kubeconfig

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
STARTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not installed: the fixture API server is checked against it")
    return path


def _objects() -> list[dict[str, Any]]:
    lab = {"app": "web"}
    return [
        kf.deployment("web", "shop", containers=[C("web", "nginx:1.27")], labels=lab),
        kf.replicaset(
            "web-5d8f",
            "shop",
            deployment="web",
            template_hash="5d8f",
            containers=[C("web", "nginx:1.27")],
            labels=lab,
        ),
        kf.pod(
            "web-5d8f-a",
            "shop",
            owner=("ReplicaSet", "web-5d8f"),
            template_hash="5d8f",
            labels=lab,
            containers=[
                C("web", "nginx:1.27", kf.image_id("docker.io/library/nginx", D1), STARTED)
            ],
            init_containers=[
                C(
                    "init",
                    "busybox:1.36",
                    kf.image_id("busybox", D2, "docker-pullable"),
                    STARTED,
                    state="terminated",
                )
            ],
        ),
        kf.pod(
            "web-5d8f-b",
            "shop",
            owner=("ReplicaSet", "web-5d8f"),
            template_hash="5d8f",
            labels=lab,
            containers=[C("web", "nginx:1.27", kf.image_id("nginx", D2, "hub-long"), STARTED)],
        ),
        kf.pod(
            "waiting",
            "other",
            containers=[C("x", "busybox", "", state="waiting", ready=False)],
            labels={"app": "x"},
        ),
        kf.statefulset("db", "data", containers=[C("db", "postgres:16")]),
        kf.daemonset("agent", containers=[C("agent", "agent:1")]),
        kf.job("backup-1", "data", containers=[C("b", "backup:1")], cronjob="backup"),
        kf.cronjob("backup", "data", containers=[C("b", "backup:1")]),
        kf.node(
            "node-a", images=[[f"docker.io/library/nginx@{D1}", "docker.io/library/nginx:1.27"]]
        ),
    ]


def _run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_kubectl(), "--kubeconfig", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(config.parent), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def served(tmp_path: Path) -> Any:
    with FakeKubeAPI(_objects()) as api:
        config = write_kubeconfig(tmp_path / "kubeconfig", [KubeContext("fake", api.url)])
        yield api, config


def _json(config: Path, *args: str) -> Any:
    result = _run(config, *args, "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_kubectl_reads_pods_in_all_namespaces_with_their_image_ids(served: Any) -> None:
    _, config = served
    pods = _json(config, "get", "pods", "-A")
    assert pods["kind"] == "List"
    by_name = {p["metadata"]["name"]: p for p in pods["items"]}
    assert sorted(by_name) == ["waiting", "web-5d8f-a", "web-5d8f-b"]
    a = by_name["web-5d8f-a"]
    assert a["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    assert a["status"]["containerStatuses"][0]["imageID"] == f"docker.io/library/nginx@{D1}"
    assert a["status"]["initContainerStatuses"][0]["imageID"] == f"docker-pullable://busybox@{D2}"
    assert by_name["web-5d8f-b"]["status"]["containerStatuses"][0]["imageID"] == (
        f"index.docker.io/library/nginx@{D2}"
    )
    assert by_name["waiting"]["status"]["containerStatuses"][0]["imageID"] == ""


def test_kubectl_reads_deployments_replicasets_and_nodes(served: Any) -> None:
    _, config = served
    [deploy] = _json(config, "get", "deployments", "-A")["items"]
    assert deploy["status"]["updatedReplicas"] == 2
    [rs] = _json(config, "get", "rs", "-n", "shop")["items"]
    assert rs["metadata"]["labels"]["pod-template-hash"] == "5d8f"
    [node] = _json(config, "get", "nodes")["items"]
    assert node["status"]["images"][0]["names"][1] == "docker.io/library/nginx:1.27"
    for kind in ("statefulsets", "daemonsets", "jobs", "cronjobs"):
        assert len(_json(config, "get", kind, "-A")["items"]) == 1, kind


def test_kubectl_pages_and_selects_through_the_fake_server(served: Any) -> None:
    api, config = served
    names = _run(config, "get", "pods", "-A", "--chunk-size=1", "-o", "name")
    assert names.returncode == 0, names.stderr
    assert names.stdout.split() == ["pod/waiting", "pod/web-5d8f-a", "pod/web-5d8f-b"]
    pages = [q for path, q in api.requests if path == "/api/v1/pods" and q.get("limit") == "1"]
    assert len(pages) == 3 and "continue" in pages[-1]
    selected = _json(config, "get", "pods", "-n", "shop", "-l", "app=web,pod-template-hash!=zzz")
    assert len(selected["items"]) == 2
    one = _json(config, "get", "pod", "web-5d8f-b", "-n", "shop")
    assert one["metadata"]["name"] == "web-5d8f-b"


def test_kubectl_sees_forbidden_and_not_found_like_a_real_server(tmp_path: Path) -> None:
    with FakeKubeAPI(_objects(), forbidden=("pods",)) as api:
        config = write_kubeconfig(tmp_path / "kubeconfig", [KubeContext("fake", api.url)])
        denied = _run(config, "get", "pods", "-A")
        assert denied.returncode == 1
        assert 'cannot list resource "pods"' in denied.stderr
        missing = _run(config, "get", "deployment", "nope", "-n", "shop")
        assert missing.returncode == 1
        assert 'deployments.apps "nope" not found' in missing.stderr
