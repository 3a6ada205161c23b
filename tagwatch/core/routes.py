"""Routes: which destinations hear about a move or a cluster finding of a watched tag."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from tagwatch.core.moves import Change
from tagwatch.core.references import ImageRef

__all__ = [
    "DEFAULT_CHANGES",
    "Condition",
    "PolicyFailure",
    "Route",
    "destinations_for",
    "finding_destinations",
    "policy_destinations",
]


class Condition(StrEnum):
    """What a cluster scan found wrong with one container of a workload."""

    SKEWED = "skewed"  # its replicas run different builds of the tag now
    AT_RISK = "at_risk"  # uniform now, but the tag moved: the next restart splits them
    STUCK_ROLLOUT = "stuck_rollout"  # a rollout stopped with old and new templates running


class PolicyFailure(StrEnum):
    """A policy a tag's new digest failed: alerted on its own, at high severity."""

    SIGNATURE_FAILED = "signature_failed"  # unsigned, or signed by nobody the policy names


#: The changes a route alerts on unless it says otherwise. `first_seen` is left out so that
#: adding 10,000 watches does not post 10,000 messages; a route can opt in.
DEFAULT_CHANGES: frozenset[Change] = frozenset(
    {Change.MOVED, Change.REPOINTED, Change.DELETED, Change.RESTORED}
)


def _glob_any(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


@dataclass(frozen=True, slots=True)
class Route:
    """Send alerts for matching tags to `destination`.

    A tag matches when it matches one of `patterns` (shell globs over the full reference
    `registry/repo:tag` or the familiar one `repo:tag`; none means any tag) and carries every
    label in `labels` (values are globs too; none means any labels). `changes` limits which
    moves alert and, when it names any `Condition`, which findings do (naming none: all of
    them); `skew=False` turns findings off. `clusters` and `namespaces` (globs) narrow the
    findings a route takes; a move has no cluster and is matched by tag and labels alone.
    """

    destination: str
    patterns: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    changes: frozenset[Change | Condition | PolicyFailure] = frozenset(DEFAULT_CHANGES)
    skew: bool = True
    clusters: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    #: False leaves out moves between indexes of the very same platform images (a rebuild
    #: that only changed attestations or annotations: no node runs other bytes).
    same_images: bool = True

    def matches(
        self,
        ref: ImageRef | None,
        labels: Mapping[str, str],
        *,
        cluster: str | None = None,
        namespace: str | None = None,
    ) -> bool:
        """Whether a tag `ref` watched with `labels` (found in `cluster`/`namespace`, for a
        finding) is routed here. `ref=None` (an image that does not parse) matches only a
        route without patterns."""
        if self.patterns:
            if ref is None:
                return False
            names = (str(ref.without_digest()), ref.without_digest().familiar)
            if not any(_glob_any(n, self.patterns) for n in names):
                return False
        for name, want in self.labels.items():
            have = labels.get(name)
            if have is None or not fnmatch.fnmatchcase(have, want):
                return False
        if self.clusters and cluster is not None and not _glob_any(cluster, self.clusters):
            return False
        return not (
            self.namespaces and namespace is not None and not _glob_any(namespace, self.namespaces)
        )

    def takes_failure(self, failure: PolicyFailure, change: Change) -> bool:
        """Whether a policy failure of a move alerts here: when `changes` names the failure,
        or names no failure at all and takes the move itself (so every route that hears of
        a move also hears that its digest failed; a route can take failures alone)."""
        named = {c for c in self.changes if isinstance(c, PolicyFailure)}
        return failure in named if named else change in self.changes

    def takes(self, condition: Condition) -> bool:
        """Whether findings of `condition` alert on this route at all."""
        if not self.skew:
            return False
        named = {c for c in self.changes if isinstance(c, Condition)}
        return not named or condition in named


def _unique(destinations: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(destinations))


def destinations_for(
    routes: Sequence[Route],
    ref: ImageRef,
    labels: Mapping[str, str],
    *,
    change: Change | None = None,
    same_images: bool = False,
) -> list[str]:
    """Destinations of every route taking this move, in route order, each once.

    `change=None` asks about a skew finding (any condition, any cluster). A move with
    `same_images` (no platform image changed) skips the routes that leave such moves out.
    """
    if change is None:
        return finding_destinations(routes, ref, labels, condition=Condition.SKEWED)
    return _unique(
        [
            r.destination
            for r in routes
            if change in r.changes and (r.same_images or not same_images) and r.matches(ref, labels)
        ]
    )


def policy_destinations(
    routes: Sequence[Route],
    ref: ImageRef,
    labels: Mapping[str, str],
    *,
    failure: PolicyFailure,
    change: Change,
) -> list[str]:
    """Destinations of every route taking this policy failure of a move, each once."""
    return _unique(
        [
            r.destination
            for r in routes
            if r.takes_failure(failure, change) and r.matches(ref, labels)
        ]
    )


def finding_destinations(
    routes: Sequence[Route],
    ref: ImageRef | None,
    labels: Mapping[str, str],
    *,
    condition: Condition,
    cluster: str | None = None,
    namespace: str | None = None,
) -> list[str]:
    """Destinations of every route taking a finding of `condition`, in route order, each once."""
    return _unique(
        [
            r.destination
            for r in routes
            if r.takes(condition) and r.matches(ref, labels, cluster=cluster, namespace=namespace)
        ]
    )
