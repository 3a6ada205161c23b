"""Stuck rollouts end to end: controllers in API JSON (read by kubectl too), `tagwatch skew`."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import kube_fixtures as kf
from tests.support.cluster import Cli, Kube, Recorder
from tests.support.kube_fixtures import C
from tests.support.registry import TestRegistry

M = timedelta(minutes=1)


def _deployment(
    ns: str, image: str, ids: tuple[str, str], started: datetime, **status: Any
) -> list[dict[str, Any]]:
    """Deployment web with ReplicaSets old and new, one pod each (old runs ids[0], new ids[1])."""
    objs: list[dict[str, Any]] = [
        kf.deployment("web", ns, containers=[C("web", image)], replicas=2, updated=1, **status)
    ]
    for hash_, image_id in zip(("old", "new"), ids, strict=True):
        objs.append(
            kf.replicaset(
                f"web-{hash_}",
                ns,
                deployment="web",
                template_hash=hash_,
                containers=[C("web", image)],
            )
        )
        objs.append(
            kf.pod(
                f"web-{hash_}-1",
                ns,
                owner=("ReplicaSet", f"web-{hash_}"),
                template_hash=hash_,
                containers=[C("web", image, image_id, started)],
            )
        )
    return objs


def _statefulset(
    ns: str, image: str, ids: tuple[str, str], created: list[datetime], **status: Any
) -> list[dict[str, Any]]:
    """StatefulSet db: pods db-0.. on revision db-1 except the last, which runs db-2."""
    objs: list[dict[str, Any]] = [
        kf.statefulset(
            "db",
            ns,
            containers=[C("db", image)],
            replicas=len(created),
            revision="db-1",
            update_revision="db-2",
            **status,
        )
    ]
    for i, when in enumerate(created):
        new = i == len(created) - 1
        objs.append(
            kf.pod(
                f"db-{i}",
                ns,
                owner=("StatefulSet", "db"),
                revision_hash="db-2" if new else "db-1",
                containers=[C("db", image, ids[1] if new else ids[0], when)],
            )
        )
    return objs


def _daemonset(
    ns: str, image: str, ids: tuple[str, str], created: list[datetime]
) -> list[dict[str, Any]]:
    """DaemonSet agent on three nodes, mid-update: only the last pod runs the new template."""
    objs: list[dict[str, Any]] = [
        kf.daemonset("agent", ns, containers=[C("agent", image)], desired=3, updated=1, available=2)
    ]
    for i, when in enumerate(created):
        new = i == len(created) - 1
        objs.append(
            kf.pod(
                f"agent-{i}",
                ns,
                owner=("DaemonSet", "agent"),
                revision_hash="b" if new else "a",
                node=f"node-{i}",
                containers=[C("agent", image, ids[1] if new else ids[0], when)],
            )
        )
    return objs


def _kubectl(k: Kube, *args: str) -> Any:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed: the fixture API server is checked against it")
    out = subprocess.run(
        [kubectl, "--kubeconfig", str(k.kubeconfig), *args, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"HOME": str(k.kubeconfig.parent), "PATH": "/usr/bin:/bin"},
    )
    return json.loads(out.stdout)


def _find(report: dict[str, Any], ns: str) -> dict[str, Any]:
    workloads: list[dict[str, Any]] = report["workloads"]
    [found] = [w for w in workloads if w["namespace"] == ns]
    return found


def test_rollouts_that_gave_up_fail_the_audit_and_rollouts_within_their_deadline_do_not(
    registry: TestRegistry,
    repo_name: str,
    recorder: Recorder,
    kube: Callable[..., Kube],
    cli: Cli,
    t0: datetime,
) -> None:
    ref = f"{registry.host}/{repo_name}:prod"
    name = f"{registry.host}/{repo_name}"
    v1 = registry.push_image(repo_name, "prod", content="v1")
    recorder.check([ref], t0)
    v2 = registry.push_image(repo_name, "prod", content="v2")
    recorder.check([ref], t0 + 10 * M)
    ids = (f"{name}@{v1}", f"{name}@{v2}")
    now = datetime.now(UTC)
    long_ago, just_now = t0 + 20 * M, now - 2 * M
    stuck = [
        *_deployment("deadline", ref, ids, long_ago, progressing_reason="ProgressDeadlineExceeded"),
        *_deployment(
            "paused", ref, ids, long_ago, progressing_reason="DeploymentPaused", paused=True
        ),
        *_statefulset("sts", ref, ids, [long_ago, long_ago, long_ago + M], ready=2, updated=1),
    ]
    held = [
        *_statefulset(
            "partitioned", ref, ids, [long_ago, long_ago, long_ago + M], updated=1, partition=2
        ),
        *_daemonset("ds", ref, ids, [long_ago, long_ago, just_now]),
        *_deployment("rolling", ref, ids, just_now, progressing_reason="ReplicaSetUpdated"),
    ]
    nodes = [kf.node(f"node-{i}") for i in range(3)]
    k = kube([*stuck, *held, *nodes])

    # what kubectl reads from the same server: the fields the rules stand on
    deploys = {
        d["metadata"]["namespace"]: d for d in _kubectl(k, "get", "deployments", "-A")["items"]
    }
    assert deploys["paused"]["spec"]["paused"] is True
    progressing = [
        c for c in deploys["deadline"]["status"]["conditions"] if c["type"] == "Progressing"
    ]
    assert (progressing[0]["status"], progressing[0]["reason"]) == (
        "False",
        "ProgressDeadlineExceeded",
    )
    sets = {
        s["metadata"]["namespace"]: s for s in _kubectl(k, "get", "statefulsets", "-A")["items"]
    }
    assert sets["partitioned"]["spec"]["updateStrategy"]["rollingUpdate"]["partition"] == 2
    assert (sets["sts"]["status"]["currentRevision"], sets["sts"]["status"]["updateRevision"]) == (
        "db-1",
        "db-2",
    )
    [ds] = _kubectl(k, "get", "daemonsets", "-A")["items"]
    assert (ds["status"]["updatedNumberScheduled"], ds["status"]["desiredNumberScheduled"]) == (
        1,
        3,
    )

    report = cli.json("skew", "-A", "--offline", "--kubeconfig", str(k.kubeconfig), code=1)
    assert report["stuck_rollouts"] == 3 and report["skewed"] == 0
    deadline = _find(report, "deadline")
    assert deadline["stuck_rollout"] is True and deadline["skewed"] is False
    assert "ProgressDeadlineExceeded" in deadline["stuck_reason"]
    assert deadline["templates"] == {"web-new": [str(v2)], "web-old": [str(v1)]}
    assert deadline["remediation"][:3] == [
        "kubectl rollout status deployment/web -n deadline (see what holds it)",
        "kubectl rollout undo deployment/web -n deadline (back to the last template that worked)",
        "kubectl rollout restart deployment/web -n deadline (retry once the cause is fixed)",
    ]
    paused = _find(report, "paused")
    assert paused["stuck_rollout"] is True and paused["stuck_reason"].startswith(
        "paused mid-rollout"
    )
    assert (
        "kubectl rollout resume deployment/web -n paused (finish the rollout)"
        in paused["remediation"]
    )
    sts = _find(report, "sts")
    assert sts["stuck_rollout"] is True and "updateRevision db-2" in sts["stuck_reason"]
    assert sts["templates"] == {"db-1": [str(v1)], "db-2": [str(v2)]}
    for ns in ("partitioned", "ds", "rolling"):
        held_finding = _find(report, ns)
        assert (held_finding["stuck_rollout"], held_finding["stuck_reason"]) == (False, None), ns
    assert _find(report, "ds")["rollout"]["complete"] is False

    table = cli("skew", "-A", "--offline", "--kubeconfig", str(k.kubeconfig), code=1)
    assert (
        "STUCK" in table.stdout
        and "kubectl rollout undo deployment/web -n deadline" in table.stdout
    )

    calm = kube([*held, *nodes])
    report = cli.json("skew", "-A", "--offline", "--kubeconfig", str(calm.kubeconfig), code=0)
    assert report["stuck_rollouts"] == 0
