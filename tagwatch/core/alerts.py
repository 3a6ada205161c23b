"""Alerts: what to tell whom about a move or a skew finding, and each alert's idempotency key.

One module for every alert kind (move, signature, finding, resolved) because they share the
payload shape and the key rule that makes delivery exactly-once; routing is in `core/routes`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import (
    Condition,
    PolicyFailure,
    Route,
    destinations_for,
    finding_destinations,
    policy_destinations,
)
from tagwatch.core.signing import SignatureVerdict
from tagwatch.core.skew_fix import rollout_restart
from tagwatch.core.times import iso_utc

if TYPE_CHECKING:
    from tagwatch.core.skew_findings import WorkloadFinding
    from tagwatch.core.workloads import ImageKey

__all__ = [
    "Alert",
    "AlertKind",
    "alerts_for_move",
    "alerts_for_resolution",
    "alerts_for_signature",
    "alerts_for_skew",
    "conditions_of",
    "episode_key",
    "fingerprint",
    "move_key",
    "skew_key",
]


class AlertKind(StrEnum):
    """What an alert is about: a move, a finding of a cluster scan, or a finding gone."""

    MOVE = "move"
    SKEW = "skew"
    AT_RISK = "at_risk"
    STUCK_ROLLOUT = "stuck_rollout"
    RESOLVED = "resolved"
    SIGNATURE = "signature"  # a tag moved to a digest that failed its signing policy

    @property
    def is_finding(self) -> bool:
        """A finding of a cluster scan (rendered with its workload, pods and fix)."""
        return self in _FINDING_KINDS


_KIND_OF = {
    Condition.SKEWED: AlertKind.SKEW,
    Condition.AT_RISK: AlertKind.AT_RISK,
    Condition.STUCK_ROLLOUT: AlertKind.STUCK_ROLLOUT,
}
_FINDING_KINDS = frozenset(_KIND_OF.values())


@dataclass(frozen=True, slots=True)
class Alert:
    """One message for one destination. `payload` (JSON-able) holds everything rendering needs."""

    key: str
    destination: str
    kind: AlertKind
    payload: Mapping[str, Any]

    @property
    def thread(self) -> str:
        """Follow-ups with the same thread (the tag) go in one Slack thread."""
        return str(self.payload.get("thread", ""))


def _hash(parts: Iterable[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _s(value: object | None) -> str:
    return "" if value is None else str(value)


def move_key(move: TagMove, destination: str) -> str:
    """The idempotency key of a move's alert to one destination.

    A move is identified by its tag, change, old and new digest and `window_start` (when
    the old digest was last seen): two replicas racing on the same move read the same
    history and so produce the same key, while a later flip back and forth has a later
    window. A first sighting has no window, so its detection time is used.
    """
    anchor = move.window_start if move.window_start is not None else move.detected_at
    return "move:" + _hash(
        (
            str(move.ref.without_digest()),
            move.change.value,
            _s(move.from_digest),
            _s(move.to_digest),
            _s(iso_utc(anchor)),
            destination,
        )
    )


def _build(build: BuildInfo | None) -> dict[str, Any] | None:
    if build is None:
        return None
    return {
        "media_type": build.media_type,
        "revision": build.revision,
        "source": build.source,
        "version": build.label("version"),
        "created": build.label("created"),
        "platforms": {p: str(d) for p, d in sorted(build.platforms.items())},
    }


def _move_payload(
    move: TagMove,
    before: BuildInfo | None,
    after: BuildInfo | None,
    labels: Mapping[str, str],
) -> dict[str, Any]:
    tag = move.ref.without_digest()
    return {
        "thread": str(tag),
        "ref": str(tag),
        "familiar": tag.familiar,
        "repository": tag.name,
        "tag": tag.tag,
        "change": move.change.value,
        "from_digest": _s(move.from_digest) or None,
        "to_digest": _s(move.to_digest) or None,
        "window_start": iso_utc(move.window_start),
        "detected_at": iso_utc(move.detected_at),
        "source": move.source.value,
        "pushed_by": move.pushed_by,
        "same_images": move.same_images,  # no platform image changed (render says so)
        "platforms": {
            "added": list(move.platforms.added),
            "removed": list(move.platforms.removed),
            "changed": list(move.platforms.changed),
        },
        "before": _build(before),
        "after": _build(after),
        "labels": dict(sorted(labels.items())),
    }


def alerts_for_move(
    move: TagMove,
    *,
    before: BuildInfo | None,
    after: BuildInfo | None,
    routes: Sequence[Route],
    labels: Mapping[str, str],
    workloads: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> list[Alert]:
    """One alert per destination routed for this move (none for `unchanged`).

    `workloads`: from the latest scan of each cluster, the containers of this tag that run
    the old bytes now (`running_old`) and the ones at risk (`at_risk`), each
    `{cluster, namespace, kind, name, container, pods}`.
    """
    if not move.is_move:
        return []
    targets = destinations_for(
        routes, move.ref, labels, change=move.change, same_images=move.same_images
    )
    if not targets:
        return []
    payload = _move_payload(move, before, after, labels)
    if workloads:
        payload["workloads"] = {k: [dict(e) for e in v] for k, v in workloads.items() if v}
    return [
        Alert(key=move_key(move, dest), destination=dest, kind=AlertKind.MOVE, payload=payload)
        for dest in targets
    ]


def alerts_for_signature(
    move: TagMove,
    verdict: SignatureVerdict,
    *,
    before: BuildInfo | None,
    after: BuildInfo | None,
    routes: Sequence[Route],
    labels: Mapping[str, str],
) -> list[Alert]:
    """A high-severity alert per destination when the move's new digest failed its signing
    policy (none when it passed, or when the registry could not be asked)."""
    if not move.is_move or not verdict.failed:
        return []
    targets = policy_destinations(
        routes, move.ref, labels, failure=PolicyFailure.SIGNATURE_FAILED, change=move.change
    )
    payload = {
        **_move_payload(move, before, after, labels),
        "severity": "high",
        "signature": {
            "policy": verdict.policy,
            "status": verdict.status.value,
            "reason": verdict.reason,
        },
    }
    return [
        Alert(
            key="signature:" + move_key(move, dest).removeprefix("move:"),
            destination=dest,
            kind=AlertKind.SIGNATURE,
            payload=payload,
        )
        for dest in targets
    ]


# -- cluster findings -------------------------------------------------------------------


def conditions_of(finding: WorkloadFinding) -> tuple[Condition, ...]:
    """What is wrong with a finding's container, if anything (a finding may be all fine)."""
    found = (
        (Condition.SKEWED, finding.skewed),
        (Condition.AT_RISK, finding.at_risk),
        (Condition.STUCK_ROLLOUT, finding.stuck_rollout),
    )
    return tuple(condition for condition, present in found if present)


def fingerprint(finding: WorkloadFinding, condition: Condition) -> str:
    """The state an episode alerts on: the set of digests running, and for a risk the digest
    the next restart would pull (the predicted change)."""
    digests = ",".join(sorted(str(d) for d in finding.digests))
    if condition is Condition.AT_RISK:
        return f"{digests}->{_s(finding.tag_digest_now)}"
    return digests


def episode_key(finding: WorkloadFinding, *, cluster: str, condition: Condition) -> str:
    """Which episode a finding belongs to: cluster, workload, container and condition."""
    key = finding.key
    return "episode:" + _hash(
        (cluster, key.kind, key.namespace, key.name, finding.container, condition.value)
    )


def skew_key(
    finding: WorkloadFinding,
    destination: str,
    *,
    cluster: str,
    condition: Condition = Condition.SKEWED,
) -> str:
    """The idempotency key of a finding's alert: its episode and the digests (or predicted
    change) it shows, so the same state alerts once however many scans see it."""
    return "skew:" + _hash(
        (
            episode_key(finding, cluster=cluster, condition=condition),
            fingerprint(finding, condition),
            destination,
        )
    )


def _image_ref(image: str) -> ImageRef | None:
    """The tag a container names (its digest dropped), None when it does not parse."""
    try:
        return ImageRef.parse(image.partition("@")[0]) if image else None
    except ValueError:
        return None


def _fix(finding: WorkloadFinding, ref: ImageRef | None) -> dict[str, Any]:
    key = finding.key
    pin = finding.tag_digest_now
    repository = (
        ImageRef(ref.registry, ref.repository, None).familiar
        if ref is not None
        else finding.image.partition("@")[0]
    )
    return {
        "restart": rollout_restart(key.kind or "Deployment", key.name, key.namespace or "default"),
        "pin": f"image: {repository}@{pin}" if pin else None,
    }


def _running_builds(
    finding: WorkloadFinding, builds: Mapping[Digest, BuildInfo]
) -> dict[str, dict[str, Any] | None]:
    """The build behind each digest the finding shows (running now, or the tag's now); a
    local image ID has no registry build to show."""
    out: dict[str, dict[str, Any] | None] = {
        str(key): None if key.local else _build(builds.get(key.digest)) for key in finding.digests
    }
    if finding.tag_digest_now is not None:
        out.setdefault(str(finding.tag_digest_now), _build(builds.get(finding.tag_digest_now)))
    return out


def _by_text(item: tuple[ImageKey, object]) -> str:
    return str(item[0])


def _finding_payload(
    finding: WorkloadFinding,
    *,
    condition: Condition,
    cluster: str,
    ref: ImageRef | None,
    builds: Mapping[Digest, BuildInfo],
    labels: Mapping[str, str],
) -> dict[str, Any]:
    key = finding.key
    return {
        "thread": str(ref.without_digest()) if ref else finding.image,
        "ref": str(ref.without_digest()) if ref else None,
        "condition": condition.value,
        "cluster": cluster,
        "kind": key.kind,
        "namespace": key.namespace,
        "name": key.name,
        "container": finding.container,
        "image": finding.image,
        "tag_digest_now": _s(finding.tag_digest_now) or None,
        "digests": {
            str(d): sorted(pods) for d, pods in sorted(finding.digests.items(), key=_by_text)
        },
        "pods": [
            {
                "name": p.name,
                "node": p.node,
                "digest": str(p.digest) if p.digest else None,
                "started_at": iso_utc(p.started_at),
                "state": p.state.value,
                "explanation": p.explanation,
            }
            for p in finding.pods
        ],
        "nodes": {n: str(d) if d else None for n, d in sorted(finding.nodes.items())},
        "last_move_at": iso_utc(finding.last_move_at),
        "rollout": {"complete": finding.rollout.complete, "reason": finding.rollout.reason},
        "builds": _running_builds(finding, builds),
        "fix": _fix(finding, ref),
        "remediation": list(finding.remediation),
        "reasons": list(finding.reasons),
        "risk": finding.risk,
        "labels": dict(sorted(labels.items())),
    }


def alerts_for_skew(
    finding: WorkloadFinding,
    *,
    cluster: str,
    builds: Mapping[Digest, BuildInfo],
    routes: Sequence[Route],
    labels: Mapping[str, str],
    conditions: Iterable[Condition] | None = None,
) -> list[Alert]:
    """One alert per destination and condition of a finding (skewed, at risk, stuck
    rollout); none when the finding is fine. `conditions` limits which are alerted (the
    ones whose episode opens or changes now).

    Routes match the tag the container names (an image that does not parse is routed only
    by routes without patterns), the watch's `labels`, the cluster and the namespace.
    """
    ref = _image_ref(finding.image)
    wanted = set(conditions_of(finding) if conditions is None else conditions)
    alerts: list[Alert] = []
    for condition in conditions_of(finding):
        if condition not in wanted:
            continue
        targets = finding_destinations(
            routes,
            ref,
            labels,
            condition=condition,
            cluster=cluster,
            namespace=finding.key.namespace,
        )
        if not targets:
            continue
        payload = _finding_payload(
            finding, condition=condition, cluster=cluster, ref=ref, builds=builds, labels=labels
        )
        alerts += [
            Alert(
                key=skew_key(finding, dest, cluster=cluster, condition=condition),
                destination=dest,
                kind=_KIND_OF[condition],
                payload=payload,
            )
            for dest in targets
        ]
    return alerts


def _span(elapsed: timedelta) -> str:
    """`2 h 10 m`, `5 m`, `40 s`: how long an episode lasted, as people say it."""
    seconds = max(0, int(elapsed.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    text = " ".join(f"{n} {unit}" for n, unit in parts if n)
    return text or f"{seconds} s"


def alerts_for_resolution(
    opened: Mapping[str, Any],
    *,
    key: str,
    opened_at: datetime,
    resolved_at: datetime,
    routes: Sequence[Route],
) -> list[Alert]:
    """A short "resolved after 2 h 10 m" for every destination the episode's opening alert
    (`opened`, its payload) would go to now; it replies in the same thread."""
    ref = _image_ref(str(opened.get("ref") or ""))
    condition = Condition(str(opened.get("condition") or Condition.SKEWED.value))
    labels = {str(k): str(v) for k, v in (opened.get("labels") or {}).items()}
    targets = finding_destinations(
        routes,
        ref,
        labels,
        condition=condition,
        cluster=_s(opened.get("cluster")) or None,
        namespace=_s(opened.get("namespace")) or None,
    )
    after = _span(resolved_at - opened_at)
    payload = {
        "thread": opened.get("thread"),
        "ref": opened.get("ref"),
        "condition": condition.value,
        "cluster": opened.get("cluster"),
        "kind": opened.get("kind"),
        "namespace": opened.get("namespace"),
        "name": opened.get("name"),
        "container": opened.get("container"),
        "image": opened.get("image"),
        "opened_at": iso_utc(opened_at),
        "resolved_at": iso_utc(resolved_at),
        "resolved_after": after,
        "labels": dict(sorted(labels.items())),
    }
    return [
        Alert(
            key="resolved:" + _hash((key, _s(iso_utc(opened_at)), dest)),
            destination=dest,
            kind=AlertKind.RESOLVED,
            payload=payload,
        )
        for dest in targets
    ]
