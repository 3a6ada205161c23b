"""Stuck rollouts: a rollout that gave up is a finding; one within its deadline, or held by a
partition on purpose, is not."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from tagwatch.core.rollouts import stuck_rollout
from tagwatch.core.workloads import ControllerRecord, Owner, PodRecord, Workload, WorkloadKey
from tests.core.test_skew import NOW, T0, A, B, deployment, only, pod, run, scan, web

M = timedelta(minutes=1)


def _two_templates(controller: ControllerRecord) -> list[Workload]:
    return web(
        pod(
            "web-old-1",
            run(A, T0 + 10 * M),
            owner=Owner("ReplicaSet", "web-old"),
            template_hash="old",
        ),
        pod(
            "web-new-1",
            run(B, T0 + 40 * M),
            owner=Owner("ReplicaSet", "web-new"),
            template_hash="new",
        ),
        controller=controller,
        rs=("old", "new"),
    )


def _set(kind: str, pods_created: list[tuple[str, str, timedelta]], **status: Any) -> Workload:
    """A StatefulSet or DaemonSet with pods (name, revision, created before NOW)."""
    controller = ControllerRecord(
        kind=kind,
        namespace="shop",
        name="db",
        generation=3,
        observed_generation=3,
        **status,
    )
    pods = tuple(
        PodRecord(
            "shop",
            name,
            "node-a",
            Owner(kind, "db"),
            (run(A if rev == "db-1" else B, NOW - ago),),
            template_hash=rev,
            ready=True,
            created_at=NOW - ago,
        )
        for name, rev, ago in pods_created
    )
    return Workload(
        WorkloadKey(kind, "shop", "db"),
        controller,
        pods,
        {p.name: p.template_hash or "" for p in pods},
    )


def test_a_deployment_past_its_progress_deadline_is_stuck_with_its_fix() -> None:
    stuck = deployment(replicas=2, updated=1, progressing="ProgressDeadlineExceeded")
    f = only(scan(_two_templates(replace(stuck, progress_deadline=300))))
    assert f.stuck_rollout and not f.skewed
    assert f.stuck_reason is not None and "(300s)" in f.stuck_reason
    assert {t: [str(d) for d in ds] for t, ds in f.templates.items()} == {
        "web-new": [str(B)],
        "web-old": [str(A)],
    }
    assert f.remediation[:3] == (
        "kubectl rollout status deployment/web -n shop (see what holds it)",
        "kubectl rollout undo deployment/web -n shop (back to the last template that worked)",
        "kubectl rollout restart deployment/web -n shop (retry once the cause is fixed)",
    )
    assert scan(_two_templates(stuck)).failed


def test_a_deployment_paused_mid_rollout_is_stuck_and_the_fix_resumes_it() -> None:
    paused = replace(deployment(replicas=2, updated=1, progressing="DeploymentPaused"), paused=True)
    f = only(scan(_two_templates(paused)))
    assert f.stuck_rollout and f.stuck_reason is not None
    assert f.stuck_reason.startswith("paused mid-rollout")
    assert "kubectl rollout resume deployment/web -n shop (finish the rollout)" in f.remediation


def test_a_deployment_rolling_out_within_its_deadline_is_not_stuck() -> None:
    rolling = deployment(replicas=2, updated=1, progressing="ReplicaSetUpdated")
    report = scan(_two_templates(rolling))
    assert not only(report).stuck_rollout and not report.failed
    assert report.to_json()["stuck_rollouts"] == 0


def test_a_paused_deployment_that_finished_is_not_stuck() -> None:
    done = replace(deployment(replicas=2), paused=True)
    assert not only(scan(_two_templates(done))).stuck_rollout


def test_a_statefulset_update_without_progress_is_stuck() -> None:
    status = dict(
        replicas=3,
        ready_replicas=2,
        updated_replicas=1,
        current_revision="db-1",
        update_revision="db-2",
    )
    old = [("db-0", "db-1", 2 * 60 * M), ("db-1", "db-1", 2 * 60 * M), ("db-2", "db-2", 30 * M)]
    reason = stuck_rollout(_set("StatefulSet", old, **status), NOW)
    assert reason is not None and "updateRevision db-2 is not currentRevision db-1" in reason
    assert "30 minutes" in reason
    recent = [*old[:2], ("db-2", "db-2", 2 * M)]
    assert stuck_rollout(_set("StatefulSet", recent, **status), NOW) is None


def test_a_partitioned_statefulset_holds_old_pods_on_purpose() -> None:
    status = dict(
        replicas=3,
        ready_replicas=3,
        updated_replicas=1,
        current_revision="db-1",
        update_revision="db-2",
        partition=2,
    )
    old = [("db-0", "db-1", 2 * 60 * M), ("db-1", "db-1", 2 * 60 * M), ("db-2", "db-2", 60 * M)]
    assert stuck_rollout(_set("StatefulSet", old, **status), NOW) is None
    # even while the one pod it lets update is not ready yet
    waiting = {**status, "ready_replicas": 2, "updated_replicas": 0}
    assert stuck_rollout(_set("StatefulSet", old, **waiting), NOW) is None


def test_a_daemonset_mid_update_is_stuck_only_past_the_deadline() -> None:
    status = dict(replicas=3, updated_replicas=1, available_replicas=2, ready_replicas=2)
    pods = [("ds-a", "db-1", 60 * M), ("ds-b", "db-1", 60 * M), ("ds-c", "db-2", 3 * M)]
    assert stuck_rollout(_set("DaemonSet", pods, **status), NOW) is None
    late = [*pods[:2], ("ds-c", "db-2", 11 * M)]
    reason = stuck_rollout(_set("DaemonSet", late, **status), NOW)
    assert reason is not None and reason.startswith("1 of 3 pods are updated")
    finished = {**status, "updated_replicas": 3, "available_replicas": 3}
    assert stuck_rollout(_set("DaemonSet", late, **finished), NOW) is None
