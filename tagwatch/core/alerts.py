"""Alerts: what to tell whom about a move or a skew finding, and each alert's idempotency key."""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from tagwatch.core.moves import BuildInfo, Change, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.skew_fix import rollout_restart

__all__ = [
    "DEFAULT_CHANGES",
    "Alert",
    "AlertKind",
    "Route",
    "alerts_for_move",
    "alerts_for_skew",
    "destinations_for",
    "move_key",
    "skew_key",
]

#: The changes a route alerts on unless it says otherwise. `first_seen` is left out so that
#: adding 10,000 watches does not post 10,000 messages; a route can opt in.
DEFAULT_CHANGES: frozenset[Change] = frozenset(
    {Change.MOVED, Change.REPOINTED, Change.DELETED, Change.RESTORED}
)


class AlertKind(StrEnum):
    """What an alert is about."""

    MOVE = "move"
    SKEW = "skew"


@dataclass(frozen=True, slots=True)
class Route:
    """Send alerts for matching tags to `destination`.

    A tag matches when it matches one of `patterns` (shell globs over the full reference
    `registry/repo:tag` or the familiar one `repo:tag`; none means any tag) and carries every
    label in `labels` (values are globs too; none means any labels). `changes` limits which
    moves alert; `skew` whether skew findings for the tag alert too.
    """

    destination: str
    patterns: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    changes: frozenset[Change] = DEFAULT_CHANGES
    skew: bool = True

    def matches(self, ref: ImageRef, labels: Mapping[str, str]) -> bool:
        """Whether a tag `ref` watched with `labels` is routed here."""
        if self.patterns:
            names = (str(ref.untagged()), ref.untagged().familiar)
            if not any(fnmatch.fnmatchcase(n, p) for p in self.patterns for n in names):
                return False
        for name, want in self.labels.items():
            have = labels.get(name)
            if have is None or not fnmatch.fnmatchcase(have, want):
                return False
        return True


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


def destinations_for(
    routes: Sequence[Route],
    ref: ImageRef,
    labels: Mapping[str, str],
    *,
    change: Change | None = None,
) -> list[str]:
    """Destinations of every matching route, in route order, each once.

    `change=None` asks about a skew finding; otherwise about a move of that kind.
    """
    out: list[str] = []
    for route in routes:
        if change is None and not route.skew:
            continue
        if change is not None and change not in route.changes:
            continue
        if route.matches(ref, labels) and route.destination not in out:
            out.append(route.destination)
    return out


def _hash(parts: Iterable[str]) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
            str(move.ref.untagged()),
            move.change.value,
            _s(move.from_digest),
            _s(move.to_digest),
            _s(_iso(anchor)),
            destination,
        )
    )


def skew_key(finding: Mapping[str, Any], destination: str) -> str:
    """The idempotency key of a skew finding: workload, container and the set of digests."""
    digests = sorted(str(d) for d in (finding.get("digests") or {}))
    return "skew:" + _hash(
        (
            _s(finding.get("cluster")),
            _s(finding.get("kind")),
            _s(finding.get("namespace")),
            _s(finding.get("name")),
            _s(finding.get("container")),
            ",".join(digests),
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
    tag = move.ref.untagged()
    return {
        "thread": str(tag),
        "ref": str(tag),
        "familiar": tag.familiar,
        "repository": tag.name,
        "tag": tag.tag,
        "change": move.change.value,
        "from_digest": _s(move.from_digest) or None,
        "to_digest": _s(move.to_digest) or None,
        "window_start": _iso(move.window_start),
        "detected_at": _iso(move.detected_at),
        "source": move.source.value,
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
) -> list[Alert]:
    """One alert per destination routed for this move (none for `unchanged`)."""
    if not move.is_move:
        return []
    targets = destinations_for(routes, move.ref, labels, change=move.change)
    if not targets:
        return []
    payload = _move_payload(move, before, after, labels)
    return [
        Alert(key=move_key(move, dest), destination=dest, kind=AlertKind.MOVE, payload=payload)
        for dest in targets
    ]


def _repository_of(image: str) -> str:
    """`repo:tag`, `repo@sha256:…` or `repo:tag@sha256:…` → `repo` (the pinnable name)."""
    name = image.partition("@")[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def _fix(finding: Mapping[str, Any]) -> dict[str, Any]:
    kind = _s(finding.get("kind")) or "deployment"
    name = _s(finding.get("name"))
    namespace = _s(finding.get("namespace")) or "default"
    pin = _s(finding.get("tag_digest_now"))
    repository = _repository_of(_s(finding.get("image")))
    return {
        "restart": rollout_restart(kind, name, namespace),
        "pin": f"image: {repository}@{pin}" if pin else None,
    }


def _skew_payload(
    finding: Mapping[str, Any], ref: ImageRef | None, labels: Mapping[str, str]
) -> dict[str, Any]:
    digests = finding.get("digests") or {}
    pods = finding.get("pods") or []
    return {
        "thread": str(ref.untagged()) if ref else _s(finding.get("image")),
        "ref": str(ref.untagged()) if ref else None,
        "cluster": finding.get("cluster"),
        "kind": _s(finding.get("kind")),
        "namespace": _s(finding.get("namespace")),
        "name": _s(finding.get("name")),
        "container": _s(finding.get("container")),
        "image": _s(finding.get("image")),
        "tag_digest_now": finding.get("tag_digest_now"),
        "digests": {str(d): sorted(str(p) for p in ps) for d, ps in sorted(digests.items())},
        "pods": [
            {
                k: (None if p.get(k) is None else str(p.get(k)))
                for k in ("name", "node", "digest", "started_at", "state", "explanation")
            }
            for p in pods
        ],
        "fix": _fix(finding),
        "remediation": [str(r) for r in finding.get("remediation") or []],
        "reasons": [str(r) for r in finding.get("reasons") or []],
        "risk": None if finding.get("risk") is None else str(finding.get("risk")),
        "labels": dict(sorted(labels.items())),
    }


def alerts_for_skew(
    finding: Mapping[str, Any],
    *,
    routes: Sequence[Route],
    labels: Mapping[str, str],
) -> list[Alert]:
    """One alert per destination for a skewed workload (the cluster scan's JSON shape,
    `WorkloadFinding.to_json`); none when the finding says it is not skewed.

    The finding's `image` is parsed to route by tag; an image that does not parse is
    routed only by routes without patterns.
    """
    if finding.get("skewed") is False:
        return []
    image = _s(finding.get("image"))
    ref: ImageRef | None
    try:
        ref = ImageRef.parse(image.partition("@")[0]) if image else None
    except ValueError:
        ref = None
    if ref is None:
        targets = [
            r.destination
            for r in routes
            if r.skew and not r.patterns and r.matches(_NO_REF, labels)
        ]
        targets = list(dict.fromkeys(targets))
    else:
        targets = destinations_for(routes, ref, labels)
    payload = _skew_payload(finding, ref, labels)
    return [
        Alert(key=skew_key(finding, dest), destination=dest, kind=AlertKind.SKEW, payload=payload)
        for dest in targets
    ]


_NO_REF = ImageRef("invalid.invalid", "unparsable")
