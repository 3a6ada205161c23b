"""A real skew finding (find_skew -> to_json) becomes one alert and one readable message."""

from __future__ import annotations

import json
from datetime import timedelta

from tagwatch.core.alerts import AlertKind, alerts_for_skew
from tagwatch.core.moves import Sighting, TagHistory
from tagwatch.core.routes import Route
from tagwatch.core.skew import WorkloadFinding, find_skew
from tagwatch.core.workloads import (
    ContainerRun,
    ContainerSpec,
    ControllerRecord,
    Owner,
    PodRecord,
    PullPolicy,
    RunningImage,
    Workload,
    WorkloadKey,
)
from tagwatch.notify.render import render
from tests.notify.factories import REF, T0, A, B
from tests.support.blockkit import validated

IMAGE = "ghcr.io/org/app:prod"


def _pod(name: str, node: str, digest: object, started_minutes: int) -> PodRecord:
    started = T0 + timedelta(minutes=started_minutes)
    return PodRecord(
        namespace="shop",
        name=name,
        node=node,
        owner=Owner("ReplicaSet", "web-7d9f"),
        containers=(
            ContainerRun(
                name="app",
                image=IMAGE,
                pull_policy=PullPolicy.IF_NOT_PRESENT,
                running=RunningImage(digest),  # type: ignore[arg-type]
                started_at=started,
                ready=True,
            ),
        ),
        template_hash="7d9f",
        ready=True,
        start_time=started,
    )


def _finding() -> WorkloadFinding:
    controller = ControllerRecord(
        kind="Deployment",
        namespace="shop",
        name="web",
        containers=(ContainerSpec("app", IMAGE, PullPolicy.IF_NOT_PRESENT),),
        generation=1,
        observed_generation=1,
        replicas=2,
        updated_replicas=2,
        available_replicas=2,
        ready_replicas=2,
        status_replicas=2,
    )
    pods = (_pod("web-7d9f-aaaaa", "node-1", A, 0), _pod("web-7d9f-bbbbb", "node-2", B, 120))
    workload = Workload(
        key=WorkloadKey("Deployment", "shop", "web"),
        controller=controller,
        pods=pods,
        groups={p.name: "web-7d9f" for p in pods},
    )
    history = TagHistory(
        REF,
        (
            Sighting(A, T0 - timedelta(days=1), T0 + timedelta(minutes=60)),
            Sighting(B, T0 + timedelta(minutes=65), T0 + timedelta(hours=5)),
        ),
    )
    report = find_skew([workload], {REF: history}, {}, T0 + timedelta(hours=5))
    [finding] = [f for f in report.findings if f.skewed]
    return finding


def test_a_real_skew_finding_alerts_once_with_pods_nodes_and_the_fix() -> None:
    finding = _finding()
    routes = [Route("alerts", patterns=("*:prod",))]
    [alert] = alerts_for_skew(finding, cluster="c", builds={}, routes=routes, labels={})
    assert alert.kind is AlertKind.SKEW
    again = alerts_for_skew(_finding(), cluster="c", builds={}, routes=[Route("alerts")], labels={})
    assert again[0].key == alert.key
    text, blocks = render(alert)
    body = json.dumps(blocks)
    assert "deployment/web" in text
    assert "web-7d9f-aaaaa" in body and "node-1" in body
    assert "web-7d9f-bbbbb" in body and "node-2" in body
    assert str(A) in body and str(B) in body
    assert "kubectl rollout restart deployment/web -n shop" in body
    # One spelling of the pin, the one `tagwatch pin` writes: the tag stays, with the digest.
    assert f"image: ghcr.io/org/app:prod@{B}" in body
    assert "image: ghcr.io/org/app@" not in body
    assert len(validated(blocks)) <= 50
