"""What a tag pointed to over time, and the classification of each new observation as a move."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef

__all__ = [
    "BuildInfo",
    "Change",
    "MoveHook",
    "Observation",
    "PlatformDiff",
    "Sighting",
    "Source",
    "TagHistory",
    "TagMove",
    "classify",
    "diff_platforms",
    "moves_of",
]

LABEL_PREFIX = "org.opencontainers.image."
#: The OCI annotations / config labels that identify a build, without their prefix.
BUILD_LABELS = ("revision", "source", "created", "version", "base.name", "base.digest")


_Tx = TypeVar("_Tx", contravariant=True)


class MoveHook(Protocol[_Tx]):
    """`on_move(tx, move, build_after)`: called by the check cycle inside the transaction that
    records the move, so what it writes (alerts) commits with it. `_Tx` is the transaction type
    the hook needs; the store's transaction satisfies any hook written against a narrower one."""

    def __call__(self, tx: _Tx, move: TagMove, after: BuildInfo | None, /) -> None: ...


class Change(StrEnum):
    """How a tag's new observation relates to its history."""

    FIRST_SEEN = "first_seen"  # the tag is new to us
    UNCHANGED = "unchanged"  # same digest as last time
    MOVED = "moved"  # a digest this tag never had: a re-push
    REPOINTED = "repointed"  # back to a digest it had before: a rollback or re-tag
    DELETED = "deleted"  # the tag is gone from the registry
    RESTORED = "restored"  # a deleted tag is back


class Source(StrEnum):
    """How an observation was made."""

    POLL = "poll"
    WEBHOOK = "webhook"
    BACKFILL = "backfill"


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """What identifies the build behind a digest: recorded once, since a digest never changes."""

    media_type: str
    platforms: Mapping[str, Digest] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def label(self, name: str) -> str | None:
        """`label("revision")` is the `org.opencontainers.image.revision` value, if any."""
        return self.labels.get(LABEL_PREFIX + name)

    @property
    def revision(self) -> str | None:
        return self.label("revision")

    @property
    def source(self) -> str | None:
        return self.label("source")

    @property
    def is_index(self) -> bool:
        return bool(self.platforms) or "index" in self.media_type or "list" in self.media_type


@dataclass(frozen=True, slots=True)
class Observation:
    """What the registry said a tag points to at `seen_at`; `digest=None` means the tag is gone."""

    ref: ImageRef
    digest: Digest | None
    seen_at: datetime
    source: Source = Source.POLL
    build: BuildInfo | None = None
    #: Who pushed, when a push webhook said so (distribution's actor, Hub's pusher...).
    pushed_by: str | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    """One row of a tag's history: it pointed to `digest` (None: absent) from first to last seen."""

    digest: Digest | None
    first_seen: datetime
    last_seen: datetime
    source: Source = Source.POLL
    pushed_by: str | None = None


@dataclass(frozen=True, slots=True)
class PlatformDiff:
    """Which platforms of an index changed between two builds."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True, slots=True)
class TagMove:
    """A change of what a tag points to, detected between `window_start` and `detected_at`.

    `window_start` is when the old digest was last seen (None for a first sighting); the
    move happened after it and no later than `detected_at`.
    """

    ref: ImageRef
    change: Change
    from_digest: Digest | None
    to_digest: Digest | None
    window_start: datetime | None
    detected_at: datetime
    source: Source = Source.POLL
    platforms: PlatformDiff = field(default_factory=PlatformDiff)
    #: A move between two indexes listing the very same platform images (only attestation
    #: entries or annotations differ): every node runs the same bytes before and after.
    same_images: bool = False
    #: Who pushed the new digest, when the registry's webhook said so.
    pushed_by: str | None = None

    @property
    def is_move(self) -> bool:
        """True for everything but `unchanged`: something to record and maybe alert on."""
        return self.change is not Change.UNCHANGED


@dataclass(frozen=True, slots=True)
class TagHistory:
    """Every sighting of one tag, oldest first. Append-only: rows are never rewritten."""

    ref: ImageRef
    sightings: tuple[Sighting, ...] = ()

    @property
    def current(self) -> Sighting | None:
        return self.sightings[-1] if self.sightings else None

    def had(self, digest: Digest) -> bool:
        return any(s.digest == digest for s in self.sightings)

    def at(self, when: datetime) -> tuple[Sighting, ...]:
        """The sightings the tag may have been on at `when`.

        One sighting when `when` falls in its seen span (or after the last one, our best
        knowledge); two when it falls in the window of a move, where either is possible;
        none before the tag was first seen.
        """
        for index, sighting in enumerate(self.sightings):
            if when < sighting.first_seen:
                if index == 0:
                    return ()
                return (self.sightings[index - 1], sighting)
            if when <= sighting.last_seen:
                return (sighting,)
        return self.sightings[-1:]


def diff_platforms(old: Mapping[str, Digest], new: Mapping[str, Digest]) -> PlatformDiff:
    """Platforms added, removed, or pointing at a different child between two indexes."""
    return PlatformDiff(
        added=tuple(sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(sorted(p for p in old.keys() & new.keys() if old[p] != new[p])),
    )


def _change(earlier: Sequence[Sighting], digest: Digest | None) -> Change:
    if not earlier:
        return Change.UNCHANGED if digest is None else Change.FIRST_SEEN
    previous = earlier[-1].digest
    if digest == previous:
        return Change.UNCHANGED
    if digest is None:
        return Change.DELETED
    if previous is None:
        return Change.RESTORED
    if any(s.digest == digest for s in earlier):
        return Change.REPOINTED
    return Change.MOVED


def classify(
    history: TagHistory,
    observation: Observation,
    *,
    platforms_before: Mapping[str, Digest] | None = None,
) -> TagMove:
    """Classify a new observation of a tag against everything the tag pointed to before.

    `platforms_before` is the platform map of the digest the tag pointed to until now (for
    an index), so that the move can say which platforms changed.
    """
    current = history.current
    change = _change(history.sightings, observation.digest)
    platforms = PlatformDiff()
    same_images = False
    if (
        change in (Change.MOVED, Change.REPOINTED)
        and platforms_before is not None
        and observation.build is not None
    ):
        platforms = diff_platforms(platforms_before, observation.build.platforms)
        same_images = bool(platforms_before) and not platforms
    return TagMove(
        ref=history.ref,
        change=change,
        from_digest=current.digest if current else None,
        to_digest=observation.digest,
        window_start=current.last_seen if current else None,
        detected_at=observation.seen_at,
        source=observation.source,
        platforms=platforms,
        same_images=same_images,
        pushed_by=observation.pushed_by,
    )


def moves_of(history: TagHistory) -> list[TagMove]:
    """The audit trail: one move per sighting, oldest first, derived from the history alone."""
    moves: list[TagMove] = []
    for index, sighting in enumerate(history.sightings):
        earlier = history.sightings[:index]
        previous = earlier[-1] if earlier else None
        moves.append(
            TagMove(
                ref=history.ref,
                change=_change(earlier, sighting.digest),
                from_digest=previous.digest if previous else None,
                to_digest=sighting.digest,
                window_start=previous.last_seen if previous else None,
                detected_at=sighting.first_seen,
                source=sighting.source,
                pushed_by=sighting.pushed_by,
            )
        )
    return moves
