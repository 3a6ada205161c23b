"""Moves, builds and skew findings to build alerts from in the notify tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tagwatch.core.alerts import Alert, alerts_for_move, alerts_for_skew
from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, Change, PlatformDiff, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.rollouts import RolloutStatus
from tagwatch.core.routes import Route
from tagwatch.core.skew_findings import PodFinding, PodState, WorkloadFinding
from tagwatch.core.workloads import ImageKey, WorkloadKey

REF = ImageRef.parse("ghcr.io/org/app:prod")
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
A, B, C = (Digest.of(x) for x in (b"a", b"b", b"c"))
INDEX = "application/vnd.oci.image.index.v1+json"


def move(
    change: Change = Change.MOVED,
    *,
    ref: ImageRef = REF,
    old: Digest | None = A,
    new: Digest | None = B,
    minutes: int = 0,
    platforms: PlatformDiff | None = None,
) -> TagMove:
    return TagMove(
        ref=ref,
        change=change,
        from_digest=old,
        to_digest=new,
        window_start=None if change is Change.FIRST_SEEN else T0 + timedelta(minutes=minutes),
        detected_at=T0 + timedelta(minutes=minutes + 5),
        platforms=platforms or PlatformDiff(),
    )


def build(revision: str, *, platforms: dict[str, Digest] | None = None) -> BuildInfo:
    return BuildInfo(
        media_type=INDEX if platforms else "application/vnd.oci.image.manifest.v1+json",
        platforms=platforms or {},
        labels={
            "org.opencontainers.image.revision": revision,
            "org.opencontainers.image.source": "https://github.com/org/app",
        },
    )


def move_alert(
    change: Change = Change.MOVED, *, destination: str = "alerts", **kwargs: Any
) -> Alert:
    found = alerts_for_move(
        move(change, **kwargs),
        before=build("1111111"),
        after=build("2222222"),
        routes=[Route(destination, changes=frozenset(Change))],
        labels={"team": "payments"},
    )
    assert len(found) == 1
    return found[0]


def skew_finding(
    *,
    digests: int = 2,
    pods_per_digest: int = 2,
    name: str = "web",
    image: str = "ghcr.io/org/app:prod",
    skewed: bool = True,
    at_risk: bool = False,
    namespace: str = "shop",
) -> WorkloadFinding:
    all_digests = [ImageKey(Digest.of(f"d{i}".encode())) for i in range(digests)]
    pods = [
        PodFinding(
            name=f"{name}-7d9f-{i}-{j}",
            node=f"node-{j % 3}",
            digest=d,
            started_at=T0,
            state=PodState.STALE,
            explanation="pulled before the tag moved (IfNotPresent kept the old bytes)",
        )
        for i, d in enumerate(all_digests)
        for j in range(pods_per_digest)
    ]
    return WorkloadFinding(
        key=WorkloadKey("Deployment", namespace, name),
        container="app",
        image=image,
        skewed=skewed,
        at_risk=at_risk,
        digests={d: tuple(p.name for p in pods if p.digest == d) for d in all_digests},
        pods=tuple(pods),
        tag_digest_now=all_digests[-1].digest,
        moves=(),
        rollout=RolloutStatus(True, "rollout complete"),
    )


def skew_alert(**kwargs: Any) -> Alert:
    found = alerts_for_skew(
        skew_finding(**kwargs), cluster="prod-eu", builds={}, routes=[Route("alerts")], labels={}
    )
    assert len(found) == 1
    return found[0]
