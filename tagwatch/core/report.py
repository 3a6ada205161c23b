"""The security review of a period: what moved, what should never have, what was unsigned.

`build_report` turns the audit trail (moves, signature verdicts, base drift) into the sections a
security engineer attaches to an audit, each row with its evidence. Policy failures (a release
tag re-pushed, a move to an unsigned or wrongly signed digest) make the report fail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tagwatch.core.digests import Digest
from tagwatch.core.drift import FoundBy
from tagwatch.core.moves import Change, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.signing import SignatureVerdict

__all__ = [
    "AuditReport",
    "DriftRow",
    "EpisodeRow",
    "MoveRow",
    "build_report",
    "is_release_tag",
]

# A full semantic version names one release: 1.4.2, v2.0.0-rc.1, 3.1.4+build.7. `1.27` is not
# one: Docker Official Images move `MAJOR.MINOR` on every patch release, by design.
_SEMVER = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
)
_RELEASE_NAMES = frozenset({"prod", "production", "stable"})


def is_release_tag(tag: str | None, *, include_latest: bool = False) -> bool:
    """A tag that names a release and should never move: a full semver, `prod`, `stable`
    (and `latest` when asked: most teams move it on purpose)."""
    if tag is None:
        return False
    if tag == "latest":
        return include_latest
    return tag in _RELEASE_NAMES or _SEMVER.fullmatch(tag) is not None


@dataclass(frozen=True, slots=True)
class MoveRow:
    """A move with its evidence: digests, when (the window it happened in), how it was seen,
    and the signing policy's verdict on the new digest, if a policy covers the tag."""

    move: TagMove
    signature: SignatureVerdict | None = None
    revision_before: str | None = None
    revision_after: str | None = None

    @property
    def ref(self) -> ImageRef:
        return self.move.ref


@dataclass(frozen=True, slots=True)
class DriftRow:
    """An image built on a base digest its base tag has moved away from."""

    ref: ImageRef
    digest: Digest | None
    base: ImageRef
    base_digest: Digest | None
    base_now: Digest | None
    moves_behind: int
    behind_since: datetime | None
    #: Which rule found the base (annotations, BuildKit provenance, layer matching).
    found_by: FoundBy | None = None

    def days_behind(self, now: datetime) -> int | None:
        return None if self.behind_since is None else max((now - self.behind_since).days, 0)


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    """A skew episode found by the cluster scans: opened, and closed unless still open."""

    cluster: str
    namespace: str
    workload: str
    container: str
    kind: str
    opened_at: datetime
    closed_at: datetime | None

    def lasted(self, now: datetime) -> timedelta:
        return (self.closed_at or now) - self.opened_at


@dataclass(frozen=True, slots=True)
class AuditReport:
    since: datetime
    until: datetime
    moves: tuple[MoveRow, ...]
    release_repushes: tuple[MoveRow, ...]
    rollbacks: tuple[MoveRow, ...]
    signature_failures: tuple[MoveRow, ...]
    drift: tuple[DriftRow, ...]
    episodes: tuple[EpisodeRow, ...] = field(default=())

    @property
    def failed(self) -> bool:
        """A policy failure is in the period: a release tag moved, or a digest failed its
        signing policy. Drift and skew are reported, with their own gates."""
        return bool(self.release_repushes or self.signature_failures)


_REPUSHES = (Change.MOVED, Change.REPOINTED)


def build_report(
    moves: Sequence[TagMove],
    *,
    since: datetime,
    now: datetime,
    signatures: Mapping[tuple[str, str, str], SignatureVerdict],
    revisions: Mapping[Digest, str],
    drift: Sequence[DriftRow] = (),
    episodes: Sequence[EpisodeRow] = (),
    include_latest: bool = False,
) -> AuditReport:
    """The review of `since`..`now` from the moves detected then, oldest first."""
    rows = []
    for move in sorted(moves, key=lambda m: (m.detected_at, str(m.ref))):
        if not since <= move.detected_at <= now or move.change is Change.UNCHANGED:
            continue
        verdict = None
        if move.to_digest is not None:
            key = (move.ref.registry, move.ref.repository, str(move.to_digest))
            verdict = signatures.get(key)
        rows.append(
            MoveRow(
                move,
                verdict,
                revisions.get(move.from_digest) if move.from_digest else None,
                revisions.get(move.to_digest) if move.to_digest else None,
            )
        )
    return AuditReport(
        since=since,
        until=now,
        moves=tuple(rows),
        release_repushes=tuple(
            r
            for r in rows
            if r.move.change in _REPUSHES
            and is_release_tag(r.ref.tag, include_latest=include_latest)
        ),
        rollbacks=tuple(r for r in rows if r.move.change is Change.REPOINTED),
        signature_failures=tuple(r for r in rows if r.signature is not None and r.signature.failed),
        drift=tuple(drift),
        episodes=tuple(e for e in episodes if (e.closed_at or now) >= since),
    )
