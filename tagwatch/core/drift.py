"""Base-image drift: an image built on a base digest judged against the base tag's history.

`base_drift(...)` reads the OCI base labels (`org.opencontainers.image.base.name`/`.digest`)
of a recorded build; `moves_since(history, digest, builds)` counts how far a tag moved on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tagwatch.core.builds import same_build
from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, TagHistory
from tagwatch.core.references import ImageRef

__all__ = ["BaseDrift", "DriftState", "MovesSince", "base_drift", "moves_since"]


class DriftState(StrEnum):
    """How an image's base compares with what its base tag points to now."""

    CURRENT = "current"  # the base tag still points to the base the image was built on
    BEHIND = "behind"  # the base tag has moved away from it: rebuild to pick up the new base
    UNKNOWN = "unknown"  # no base labels, or the base tag was never observed


@dataclass(frozen=True, slots=True)
class BaseDrift:
    """An image judged against its base tag's history.

    `moves_behind` counts the base tag's moves since it last pointed to `base_digest`; when
    the history never saw `base_digest` (`exact` False) it is a lower bound and `moved_at`
    is None. `moved_at` is when the first of those moves was detected; `window_start` when
    the old base was last seen (the move happened in between).
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
    if build is None:
        return BaseDrift(ref, digest, DriftState.UNKNOWN, reason="build not recorded")
    raw_name, raw_digest = build.label("base.name"), build.label("base.digest")
    if not raw_name or not raw_digest:
        return BaseDrift(
            ref,
            digest,
            DriftState.UNKNOWN,
            reason="no org.opencontainers.image.base.name/base.digest labels",
        )
    try:
        base = ImageRef.parse(raw_name)
        base_digest = Digest.parse(raw_digest)
    except ValueError as exc:
        return BaseDrift(ref, digest, DriftState.UNKNOWN, reason=f"bad base label: {exc}")
    if base.tag is None:
        return BaseDrift(
            ref,
            digest,
            DriftState.UNKNOWN,
            base=base,
            base_digest=base_digest,
            reason="base named by digest only: there is no tag to compare with",
        )
    base = base.without_digest()
    current = base_history.current if base_history is not None else None
    if base_history is None or current is None:
        return BaseDrift(
            ref,
            digest,
            DriftState.UNKNOWN,
            base=base,
            base_digest=base_digest,
            reason="base tag never observed",
        )
    if current.digest is not None and same_build(base_digest, current.digest, builds):
        return BaseDrift(
            ref,
            digest,
            DriftState.CURRENT,
            base=base,
            base_digest=base_digest,
            base_now=current.digest,
        )
    since = moves_since(base_history, base_digest, builds)
    return BaseDrift(
        ref,
        digest,
        DriftState.BEHIND,
        base=base,
        base_digest=base_digest,
        base_now=current.digest,
        moves_behind=since.moves,
        exact=since.exact,
        moved_at=since.moved_at,
        window_start=since.window_start,
        reason=""
        if since.exact
        else "the base tag never pointed to this base in the recorded history",
    )


@dataclass(frozen=True, slots=True)
class MovesSince:
    """How far a tag has moved on from a digest: `moves` sightings since it last pointed there.

    `exact` is False when the history never saw the digest (`moves` is then a lower bound, 1,
    and the times are None); `moved_at` is when the first later digest was detected,
    `window_start` when the digest was last seen under the tag.
    """

    moves: int
    exact: bool
    moved_at: datetime | None = None
    window_start: datetime | None = None


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
    later = sightings[last + 1 :]
    if not later:
        return MovesSince(moves=0, exact=True)
    return MovesSince(
        moves=len(later),
        exact=True,
        moved_at=later[0].first_seen,
        window_start=sightings[last].last_seen,
    )
