"""What a skew scan found, as typed values: each pod's state, each workload's finding, the report.

JSON is made here only because the CLI, the API and the outbox all show the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tagwatch.core.digests import Digest, Platform
from tagwatch.core.moves import BuildInfo, TagMove
from tagwatch.core.rollouts import RolloutStatus
from tagwatch.core.times import iso_utc
from tagwatch.core.workloads import ImageKey, WorkloadKey

__all__ = ["PodFinding", "PodState", "SkewReport", "WorkloadFinding", "move_json"]


class PodState(StrEnum):
    """How one pod's container relates to its tag's history."""

    CURRENT = "current"  # runs what the tag (or the pinned digest) points to now
    STALE = "stale"  # runs bytes the tag has since moved away from
    AHEAD = "ahead"  # runs bytes we have not recorded yet, started after our last sighting
    UNKNOWN = "unknown"  # waiting, a local image ID, or bytes the history does not explain


def move_json(move: TagMove, builds: Mapping[Digest, BuildInfo]) -> dict[str, Any]:
    def revision(d: Digest | None) -> str | None:
        build = builds.get(d) if d else None
        return build.revision if build else None

    return {
        "change": move.change.value,
        "from": str(move.from_digest) if move.from_digest else None,
        "to": str(move.to_digest) if move.to_digest else None,
        "window_start": iso_utc(move.window_start),
        "detected_at": iso_utc(move.detected_at),
        "from_revision": revision(move.from_digest),
        "to_revision": revision(move.to_digest),
    }


@dataclass(frozen=True, slots=True)
class PodFinding:
    """One pod's container: what it runs, when it started, and how that relates to the tag."""

    name: str
    node: str | None
    digest: ImageKey | None  # the build it runs (an index for a child), None when unknown
    started_at: datetime | None
    state: PodState
    explanation: str
    group: str = ""
    ready: bool = False
    move: TagMove | None = None
    platform: Platform | None = None  # the node's platform, when the cluster said
    platform_image: Digest | None = None  # the platform image it runs, when that can be told

    def to_json(self, builds: Mapping[Digest, BuildInfo]) -> dict[str, Any]:
        return {
            "name": self.name,
            "node": self.node,
            "digest": str(self.digest) if self.digest else None,
            "started_at": iso_utc(self.started_at),
            "state": self.state.value,
            "explanation": self.explanation,
            "template": self.group or None,
            "ready": self.ready,
            "move": move_json(self.move, builds) if self.move else None,
            "platform": str(self.platform) if self.platform else None,
            "platform_image": str(self.platform_image) if self.platform_image else None,
        }


@dataclass(frozen=True, slots=True)
class WorkloadFinding:
    """One container of one workload: its replicas' digests, skew, risk, moves and the fix."""

    key: WorkloadKey
    container: str
    image: str
    skewed: bool
    at_risk: bool
    digests: Mapping[ImageKey, tuple[str, ...]]
    pods: tuple[PodFinding, ...]
    tag_digest_now: Digest | None
    moves: tuple[TagMove, ...]
    rollout: RolloutStatus
    reasons: tuple[str, ...] = ()
    risk: str | None = None
    nodes: Mapping[str, ImageKey | None] = field(default_factory=dict)
    holders: Mapping[ImageKey, tuple[str, ...]] = field(default_factory=dict)
    last_move_at: datetime | None = None
    repushed_recently: bool = False
    remediation: tuple[str, ...] = ()
    init: bool = False
    #: A rollout that gave up while pods of its templates run: it fails the audit.
    stuck_rollout: bool = False
    stuck_reason: str | None = None  # why (core/rollouts.stuck_rollout)
    templates: Mapping[str, tuple[ImageKey, ...]] = field(default_factory=dict)

    def to_json(self, builds: Mapping[Digest, BuildInfo]) -> dict[str, Any]:
        return {
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "container": self.container,
            "image": self.image,
            "skewed": self.skewed,
            "at_risk": self.at_risk,
            "digests": {str(d): list(pods) for d, pods in self.digests.items()},
            "pods": [p.to_json(builds) for p in self.pods],
            "tag_digest_now": str(self.tag_digest_now) if self.tag_digest_now else None,
            "moves": [move_json(m, builds) for m in self.moves],
            "reasons": list(self.reasons),
            "risk": self.risk,
            "rollout": {"complete": self.rollout.complete, "reason": self.rollout.reason},
            "nodes": {n: str(d) if d else None for n, d in self.nodes.items()},
            "nodes_holding": {str(d): list(n) for d, n in self.holders.items()},
            "last_move_at": iso_utc(self.last_move_at),
            "repushed_recently": self.repushed_recently,
            "remediation": list(self.remediation),
            "init_container": self.init,
            "stuck_rollout": self.stuck_rollout,
            "stuck_reason": self.stuck_reason,
            "templates": {t: [str(d) for d in ds] for t, ds in self.templates.items()},
        }


@dataclass(frozen=True, slots=True)
class SkewReport:
    """Every finding of one scan; `skewed` decides the exit code."""

    findings: tuple[WorkloadFinding, ...]
    builds: Mapping[Digest, BuildInfo] = field(default_factory=dict)
    generated_at: datetime | None = None

    @property
    def skewed(self) -> bool:
        return any(f.skewed for f in self.findings)

    @property
    def at_risk(self) -> bool:
        return any(f.at_risk for f in self.findings)

    @property
    def stuck(self) -> bool:
        return any(f.stuck_rollout for f in self.findings)

    @property
    def failed(self) -> bool:
        """Skew or a stuck rollout: what makes `tagwatch skew` exit 1."""
        return self.skewed or self.stuck

    def to_json(self) -> dict[str, Any]:
        return {
            "workloads": [f.to_json(self.builds) for f in self.findings],
            "skewed": sum(1 for f in self.findings if f.skewed),
            "at_risk": sum(1 for f in self.findings if f.at_risk),
            "stuck_rollouts": sum(1 for f in self.findings if f.stuck_rollout),
            "generated_at": iso_utc(self.generated_at),
        }
