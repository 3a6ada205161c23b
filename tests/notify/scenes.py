"""Cluster scenes for the notify tests: a Deployment's pods and the tag's history, through the
real `find_skew`, so alerts and messages are made from findings a scan would make."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from tagwatch.core.digests import Digest
from tagwatch.core.moves import Sighting, TagHistory
from tagwatch.core.skew import WorkloadFinding, find_skew
from tagwatch.core.workloads import (
    ContainerRun,
    ContainerSpec,
    ControllerRecord,
    NodeRecord,
    Owner,
    PodRecord,
    PullPolicy,
    RunningImage,
    Workload,
    WorkloadKey,
)
from tests.notify.factories import REF, T0, A, B

IMAGE = "ghcr.io/org/app:prod"


def pod(
    name: str, node: str, digest: Digest, started_minutes: int, *, template: str = "7d9f"
) -> PodRecord:
    """A running pod of Deployment shop/web (ReplicaSet web-<template>), container `app`."""
    started = T0 + timedelta(minutes=started_minutes)
    return PodRecord(
        namespace="shop",
        name=name,
        node=node,
        owner=Owner("ReplicaSet", f"web-{template}"),
        containers=(
            ContainerRun(
                name="app",
                image=IMAGE,
                pull_policy=PullPolicy.IF_NOT_PRESENT,
                running=RunningImage(digest),
                started_at=started,
                ready=True,
            ),
        ),
        template_hash=template,
        ready=True,
        start_time=started,
    )


def findings(
    pods: Sequence[PodRecord],
    nodes: Sequence[NodeRecord] = (),
    *,
    controller: ControllerRecord | None = None,
) -> list[WorkloadFinding]:
    """The scan's findings for shop/web running `pods` (on `nodes`), five hours after T0,
    when the tag moved from A to B at T0 + 65 m."""
    controller = controller or ControllerRecord(
        kind="Deployment",
        namespace="shop",
        name="web",
        containers=(ContainerSpec("app", IMAGE, PullPolicy.IF_NOT_PRESENT),),
        generation=1,
        observed_generation=1,
        replicas=len(pods),
        updated_replicas=len(pods),
        available_replicas=len(pods),
        ready_replicas=len(pods),
        status_replicas=len(pods),
    )
    workload = Workload(
        key=WorkloadKey("Deployment", "shop", "web"),
        controller=controller,
        pods=tuple(pods),
        groups={p.name: f"web-{p.template_hash}" for p in pods},
    )
    history = TagHistory(
        REF,
        (
            Sighting(A, T0 - timedelta(days=1), T0 + timedelta(minutes=60)),
            Sighting(B, T0 + timedelta(minutes=65), T0 + timedelta(hours=5)),
        ),
    )
    report = find_skew([workload], {REF: history}, {}, T0 + timedelta(hours=5), nodes=nodes)
    return list(report.findings)


def skewed() -> WorkloadFinding:
    """One pod on the old build, one on the new: skew."""
    pods = (pod("web-7d9f-aaaaa", "node-1", A, 0), pod("web-7d9f-bbbbb", "node-2", B, 120))
    [finding] = [f for f in findings(pods) if f.skewed]
    return finding


def at_risk() -> WorkloadFinding:
    """Every pod on the old build, the tag moved since: the next restart splits them."""
    pods = [pod(f"web-7d9f-{c * 5}", f"node-{i}", A, 0) for i, c in enumerate("abc", 1)]
    held = (f"ghcr.io/org/app@{A}", "ghcr.io/org/app:prod")
    nodes = [NodeRecord(f"node-{i}", (held,)) for i in (1, 2, 3)] + [NodeRecord("node-4")]
    [finding] = [f for f in findings(pods, nodes) if f.at_risk]
    return finding


def stuck() -> WorkloadFinding:
    """A rollout past its progress deadline: two pods of the old ReplicaSet on the old build,
    one of the new on the new build, and no more progress."""
    pods = (
        pod("web-7d9f-aaaaa", "node-1", A, 0),
        pod("web-7d9f-bbbbb", "node-2", A, 0),
        pod("web-5c4b-ccccc", "node-3", B, 120, template="5c4b"),
    )
    controller = ControllerRecord(
        kind="Deployment",
        namespace="shop",
        name="web",
        containers=(ContainerSpec("app", IMAGE, PullPolicy.IF_NOT_PRESENT),),
        generation=2,
        observed_generation=2,
        replicas=3,
        updated_replicas=1,
        available_replicas=2,
        ready_replicas=2,
        status_replicas=3,
        progressing_reason="ProgressDeadlineExceeded",
        progress_deadline=600,
    )
    [finding] = [f for f in findings(pods, controller=controller) if f.stuck_rollout]
    return finding
