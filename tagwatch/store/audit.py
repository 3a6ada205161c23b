"""Reading the audit trail in bounded pieces: pages of moves and tags, and moves as a stream.

Every list here is bounded (`limit`) or streamed (a server-side cursor): nothing loads the
whole history. A page is addressed by keyset (the last item's position), not an offset, so
rows appended while a client pages never shift or repeat what it already read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.orm import Session, aliased

from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, Sighting, Source, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.store.models import SightingRow, WatchRow

__all__ = ["AuditReader", "MoveFilter", "MoveKey", "RecordedMove", "TagKey"]

#: The largest page any caller gets, whatever it asks for.
MAX_LIMIT = 1000
#: Rows fetched per round trip when streaming.
_STREAM_BATCH = 1000


@dataclass(frozen=True, slots=True)
class MoveFilter:
    """Which moves to read; every field left at None (or empty) matches everything.

    `label` is a watch label `(name, value)`; `search` a substring of the tag's reference;
    `changes` the kinds of change wanted.
    """

    ref: ImageRef | None = None
    registry: str | None = None
    repository: str | None = None
    label: tuple[str, str] | None = None
    changes: frozenset[Change] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class MoveKey:
    """Where a move sits in the trail: when it was detected, then the order it was recorded."""

    detected_at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class TagKey:
    """Where a tag sits in the list of tags (sorted by registry, repository, tag)."""

    registry: str
    repository: str
    tag: str


@dataclass(frozen=True, slots=True)
class RecordedMove:
    """A move with its place in the trail (what a page's cursor points after)."""

    key: MoveKey
    move: TagMove


def _digest(raw: str | None) -> Digest | None:
    # Written from a parsed Digest by the repository: not re-validated on the way out.
    if raw is None:
        return None
    algorithm, _, encoded = raw.partition(":")
    return Digest(algorithm, encoded)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: pass timezone-aware UTC times")
    return when.astimezone(UTC)


def _limit(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))


def _same_tag(a: Any, b: Any) -> ColumnElement[bool]:
    return and_(a.host == b.host, a.repository == b.repository, a.tag == b.tag)


class AuditReader:
    """Read-only queries over one transaction's session (from `StoreTx.audit`)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    # -- moves --------------------------------------------------------------------------

    def _moves(self, wanted: MoveFilter) -> tuple[Select[Any], Any]:
        """One row per sighting with what classifies it as a move, filtered; and its alias."""
        s = aliased(SightingRow, name="s")
        prev = aliased(SightingRow, name="prev")
        earlier = aliased(SightingRow, name="earlier")
        had_before = exists(
            select(literal(1)).where(
                _same_tag(earlier, s), earlier.seq < s.seq, earlier.digest == s.digest
            )
        )
        # The rule of core.moves (moves_of), in SQL so a page can be filtered on it;
        # tests check both give the same trail.
        change = case(
            (s.seq == 1, literal(Change.FIRST_SEEN.value)),
            (s.digest.is_(None), literal(Change.DELETED.value)),
            (prev.digest.is_(None), literal(Change.RESTORED.value)),
            (had_before, literal(Change.REPOINTED.value)),
            else_=literal(Change.MOVED.value),
        ).label("change")
        statement: Any = select(  # past ten columns SQLAlchemy types it variadically
            s.id,
            s.host,
            s.repository,
            s.tag,
            s.digest,
            s.first_seen,
            s.source,
            s.pushed_by,
            prev.digest.label("prev_digest"),
            prev.last_seen.label("prev_last_seen"),
            change,
        ).outerjoin(prev, and_(_same_tag(prev, s), prev.seq == s.seq - 1))
        if wanted.ref is not None and wanted.ref.tag is not None:
            statement = statement.where(
                s.host == wanted.ref.registry,
                s.repository == wanted.ref.repository,
                s.tag == wanted.ref.tag,
            )
        if wanted.registry:
            statement = statement.where(s.host == wanted.registry)
        if wanted.repository:
            statement = statement.where(s.repository == wanted.repository)
        if wanted.since is not None:
            statement = statement.where(s.first_seen >= _aware(wanted.since))
        if wanted.until is not None:
            statement = statement.where(s.first_seen <= _aware(wanted.until))
        if wanted.search:
            reference = s.host + "/" + s.repository + ":" + s.tag
            statement = statement.where(reference.icontains(wanted.search, autoescape=True))
        if wanted.label is not None:
            name, value = wanted.label
            statement = statement.join(
                WatchRow,
                and_(
                    WatchRow.host == s.host,
                    WatchRow.repository == s.repository,
                    WatchRow.tag == s.tag,
                ),
            ).where(WatchRow.labels[name].as_string() == value)
        if wanted.changes:
            statement = statement.where(change.in_(sorted(c.value for c in wanted.changes)))
        return statement, s

    @staticmethod
    def _recorded(row: Any) -> RecordedMove:
        ref = ImageRef(row.host, row.repository, row.tag)
        move = TagMove(
            ref=ref,
            change=Change(row.change),
            from_digest=_digest(row.prev_digest),
            to_digest=_digest(row.digest),
            window_start=row.prev_last_seen,
            detected_at=row.first_seen,
            source=Source(row.source),
            pushed_by=row.pushed_by,
        )
        return RecordedMove(MoveKey(row.first_seen, row.id), move)

    def moves_page(
        self,
        wanted: MoveFilter = MoveFilter(),
        *,
        after: MoveKey | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> tuple[list[RecordedMove], MoveKey | None]:
        """Up to `limit` moves after `after`, and the key to ask the next page after (None at
        the end). Oldest first, or newest first for a feed."""
        statement, s = self._moves(wanted)
        position = tuple_(s.first_seen, s.id)
        if newest_first:
            if after is not None:
                statement = statement.where(position < tuple_(_aware(after.detected_at), after.id))
            statement = statement.order_by(s.first_seen.desc(), s.id.desc())
        else:
            if after is not None:
                statement = statement.where(position > tuple_(_aware(after.detected_at), after.id))
            statement = statement.order_by(s.first_seen, s.id)
        size = _limit(limit)
        rows = self._session.execute(statement.limit(size + 1)).all()
        page = [self._recorded(r) for r in rows[:size]]
        return page, (page[-1].key if len(rows) > size else None)

    def stream_moves(self, wanted: MoveFilter = MoveFilter()) -> Iterator[TagMove]:
        """Every move matching, oldest first, read through a server-side cursor in batches:
        memory stays flat however long the trail."""
        statement, s = self._moves(wanted)
        result = self._session.execute(
            statement.order_by(s.first_seen, s.id),
            execution_options={"yield_per": _STREAM_BATCH},
        )
        try:
            for row in result:
                yield self._recorded(row).move
        finally:
            result.close()

    # -- tags ---------------------------------------------------------------------------

    def tags_page(
        self, *, after: TagKey | None = None, limit: int = 100, search: str | None = None
    ) -> tuple[list[tuple[ImageRef, Sighting]], TagKey | None]:
        """Up to `limit` tags with their current sighting, sorted by reference, after `after`."""
        s = aliased(SightingRow, name="s")
        later = aliased(SightingRow, name="later")
        statement = (
            select(s.host, s.repository, s.tag, s.digest, s.first_seen, s.last_seen, s.source)
            .where(~exists(select(literal(1)).where(_same_tag(later, s), later.seq > s.seq)))
            .order_by(s.host, s.repository, s.tag)
        )
        if after is not None:
            statement = statement.where(
                tuple_(s.host, s.repository, s.tag)
                > tuple_(after.registry, after.repository, after.tag)
            )
        if search:
            reference = s.host + "/" + s.repository + ":" + s.tag
            statement = statement.where(reference.icontains(search, autoescape=True))
        size = _limit(limit)
        rows = self._session.execute(statement.limit(size + 1)).all()
        page = [
            (
                ImageRef(r.host, r.repository, r.tag),
                Sighting(_digest(r.digest), r.first_seen, r.last_seen, Source(r.source)),
            )
            for r in rows[:size]
        ]
        last = rows[size - 1] if len(rows) > size else None
        return page, (TagKey(last.host, last.repository, last.tag) if last is not None else None)

    # -- one tag ------------------------------------------------------------------------

    def sightings_page(
        self, ref: ImageRef, *, after_seq: int = 0, limit: int = MAX_LIMIT
    ) -> tuple[list[Sighting], int | None]:
        """Up to `limit` sightings of `ref` after number `after_seq`, oldest first, and the
        number to continue after (None at the end)."""
        if ref.tag is None:
            raise ValueError(f"{ref} has no tag: history is kept per tag")
        size = _limit(limit)
        rows = self._session.execute(
            select(
                SightingRow.seq,
                SightingRow.digest,
                SightingRow.first_seen,
                SightingRow.last_seen,
                SightingRow.source,
                SightingRow.pushed_by,
            )
            .where(
                SightingRow.host == ref.registry,
                SightingRow.repository == ref.repository,
                SightingRow.tag == ref.tag,
                SightingRow.seq > after_seq,
            )
            .order_by(SightingRow.seq)
            .limit(size + 1)
        ).all()
        page = [
            Sighting(_digest(r.digest), r.first_seen, r.last_seen, Source(r.source), r.pushed_by)
            for r in rows[:size]
        ]
        return page, (int(rows[size - 1].seq) if len(rows) > size else None)

    def digests_page(
        self, ref: ImageRef, *, after_seq: int = 0, limit: int = 100
    ) -> tuple[list[Digest], int | None]:
        """Up to `limit` distinct digests `ref` pointed to, in the order it first did, whose
        first sighting is after number `after_seq`; and the number to continue after."""
        if ref.tag is None:
            raise ValueError(f"{ref} has no tag: history is kept per tag")
        first = func.min(SightingRow.seq).label("first")
        size = _limit(limit)
        rows = self._session.execute(
            select(SightingRow.digest, first)
            .where(
                SightingRow.host == ref.registry,
                SightingRow.repository == ref.repository,
                SightingRow.tag == ref.tag,
                SightingRow.digest.is_not(None),
            )
            .group_by(SightingRow.digest)
            .having(first > after_seq)
            .order_by(first)
            .limit(size + 1)
        ).all()
        page = [d for d in (_digest(r.digest) for r in rows[:size]) if d is not None]
        return page, (int(rows[size - 1].first) if len(rows) > size else None)


def tag_key(ref: ImageRef) -> TagKey:
    """The position of `ref` in the list of tags."""
    if ref.tag is None:
        raise ValueError(f"{ref} has no tag")
    return TagKey(ref.registry, ref.repository, ref.tag)


def digests_of(sightings: Sequence[Sighting]) -> list[Digest]:
    """The distinct digests of `sightings`, in the order they first appear."""
    return list(dict.fromkeys(s.digest for s in sightings if s.digest is not None))
