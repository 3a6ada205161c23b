"""Base-image drift: an image built on a base digest judged against the base tag's history.

A `BaseFinding` says which base an image was built on and which rule found it (the OCI
base annotations, BuildKit provenance, or layer matching; the app finds it); `judge_base`
compares it with the base tag's history. `base_drift(...)` reads the annotation rule from
a recorded build; `moves_since(history, digest, builds)` counts how far a tag moved on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial

from tagwatch.core.builds import same_build
from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, TagHistory
from tagwatch.core.references import ImageRef

__all__ = [
    "BaseDrift",
    "BaseFinding",
    "DriftState",
    "FoundBy",
    "MovesSince",
    "annotated_base",
    "base_drift",
    "judge_base",
    "moves_since",
]


class FoundBy(StrEnum):
    """Which rule found an image's base, tried in this order."""

    ANNOTATION = "annotation"  # org.opencontainers.image.base.name/.base.digest
    PROVENANCE = "provenance"  # BuildKit's SLSA provenance attestation
    LAYERS = "layers"  # its first layers are a recorded base build's complete layer list


@dataclass(frozen=True, slots=True)
class BaseFinding:
    """The base an image was built on: the base tag, the build of it (a digest the tag
    pointed to, or a platform image of one), and the rule that found it."""

    base: ImageRef
    base_digest: Digest
    found_by: FoundBy


class DriftState(StrEnum):
    """How an image's base compares with what its base tag points to now."""

    CURRENT = "current"  # the base tag still points to the base the image was built on
    BEHIND = "behind"  # the base tag has moved away from it: rebuild to pick up the new base
    UNKNOWN = "unknown"  # no base found, or the base tag was never observed


@dataclass(frozen=True, slots=True)
class BaseDrift:
    """An image judged against its base tag's history.

    `moves_behind` counts the base tag's moves since it last pointed to `base_digest`; when
    the history never saw `base_digest` (`exact` False) it is a lower bound and `moved_at`
    is None. `moved_at` is when the first of those moves was detected, `last_moved_at` the
    latest; `window_start` when the old base was last seen (the move happened in between).
    `current_from` is when the base tag was first seen on the build the image is on (its
    last stretch there); it stayed current until `moved_at` (None: still current).
    """

    ref: ImageRef
    digest: Digest | None
    state: DriftState
    base: ImageRef | None = None
    base_digest: Digest | None = None
    base_now: Digest | None = None
    moves_behind: int = 0
    exact: bool = True
    moved_at: datetime | None = None
    window_start: datetime | None = None
    reason: str = ""
    found_by: FoundBy | None = None
    current_from: datetime | None = None
    last_moved_at: datetime | None = None


def annotated_base(build: BuildInfo | None) -> BaseFinding | str:
    """The base the OCI base annotations of `build` name, or why they name none."""
    if build is None:
        return "build not recorded"
    raw_name, raw_digest = build.label("base.name"), build.label("base.digest")
    if not raw_name or not raw_digest:
        return "no org.opencontainers.image.base.name/base.digest labels"
    try:
        base = ImageRef.parse(raw_name)
        base_digest = Digest.parse(raw_digest)
    except ValueError as exc:
        return f"bad base label: {exc}"
    return BaseFinding(base, base_digest, FoundBy.ANNOTATION)


def base_drift(
    ref: ImageRef,
    digest: Digest | None,
    build: BuildInfo | None,
    base_history: TagHistory | None,
    builds: Mapping[Digest, BuildInfo],
) -> BaseDrift:
    """Judge `ref` (at `digest`, whose `build` carries the base labels) against its base tag.

    `base_history` is the history of the tag named by `org.opencontainers.image.base.name`;
    `builds` the recorded builds of the base's digests (to match platform children).
    """
    finding = annotated_base(build)
    if isinstance(finding, str):
        return BaseDrift(ref, digest, DriftState.UNKNOWN, reason=finding)
    return judge_base(ref, digest, finding, base_history, builds)


def judge_base(
    ref: ImageRef,
    digest: Digest | None,
    finding: BaseFinding,
    base_history: TagHistory | None,
    builds: Mapping[Digest, BuildInfo],
) -> BaseDrift:
    """Judge `ref` (at `digest`), built on `finding`, against its base tag's history."""
    base_digest = finding.base_digest
    # Every verdict names the image, its base digest and how the base was found.
    judged = partial(BaseDrift, ref, digest, base_digest=base_digest, found_by=finding.found_by)
    if finding.base.tag is None:
        return judged(
            DriftState.UNKNOWN,
            base=finding.base,
            reason="base named by digest only: there is no tag to compare with",
        )
    base = finding.base.without_digest()
    current = base_history.current if base_history is not None else None
    if base_history is None or current is None:
        return judged(DriftState.UNKNOWN, base=base, reason="base tag never observed")
    since = moves_since(base_history, base_digest, builds)
    if current.digest is not None and same_build(base_digest, current.digest, builds):
        return judged(
            DriftState.CURRENT,
            base=base,
            base_now=current.digest,
            current_from=since.current_from,
        )
    return judged(
        DriftState.BEHIND,
        base=base,
        base_now=current.digest,
        moves_behind=since.moves,
        exact=since.exact,
        moved_at=since.moved_at,
        window_start=since.window_start,
        reason=""
        if since.exact
        else "the base tag never pointed to this base in the recorded history",
        current_from=since.current_from,
        last_moved_at=since.last_moved_at,
    )


@dataclass(frozen=True, slots=True)
class MovesSince:
    """How far a tag has moved on from a digest: `moves` sightings since it last pointed there.

    `exact` is False when the history never saw the digest (`moves` is then a lower bound, 1,
    and the times are None); `moved_at` is when the first later digest was detected,
    `window_start` when the digest was last seen under the tag; `last_moved_at` when the
    latest move was detected; `current_from` when the tag's last stretch on the digest began.
    """

    moves: int
    exact: bool
    moved_at: datetime | None = None
    window_start: datetime | None = None
    last_moved_at: datetime | None = None
    current_from: datetime | None = None


def moves_since(
    history: TagHistory, digest: Digest, builds: Mapping[Digest, BuildInfo]
) -> MovesSince:
    """How many times `history`'s tag moved since it last pointed to `digest` (or its build)."""
    sightings = history.sightings
    last = max(
        (i for i, s in enumerate(sightings) if s.digest and same_build(digest, s.digest, builds)),
        default=None,
    )
    if last is None:
        return MovesSince(moves=1, exact=False)
    first = last
    while first > 0 and (earlier := sightings[first - 1].digest) is not None:
        if not same_build(digest, earlier, builds):
            break
        first -= 1  # the index and then its child (or back): one stretch on one build
    later = sightings[last + 1 :]
    if not later:
        return MovesSince(moves=0, exact=True, current_from=sightings[first].first_seen)
    return MovesSince(
        moves=len(later),
        exact=True,
        moved_at=later[0].first_seen,
        window_start=sightings[last].last_seen,
        last_moved_at=later[-1].first_seen,
        current_from=sightings[first].first_seen,
    )
