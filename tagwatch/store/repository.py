"""The repository: one transaction's reads and appends of tag history, returning core objects.

Opening the database and its transactions are `store/database.py`; the other tables' parts
(`tx.outbox`, `tx.leases`, `tx.events`, …) are their own modules."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Insert, and_, func, select, tuple_, update
from sqlalchemy.orm import Session

from tagwatch.core.builds import with_same_images
from tagwatch.core.digests import Digest
from tagwatch.core.moves import (
    BuildInfo,
    Observation,
    Sighting,
    Source,
    TagHistory,
    TagMove,
    moves_of,
)
from tagwatch.core.references import ImageRef
from tagwatch.errors import StoreError
from tagwatch.store.audit import AuditReader
from tagwatch.store.builds import BuildsMixin
from tagwatch.store.episodes import Episodes, Findings
from tagwatch.store.events import Events
from tagwatch.store.layers import LayersMixin
from tagwatch.store.leases import Leases
from tagwatch.store.models import Base, SightingRow
from tagwatch.store.outbox import Outbox, OutboxItem
from tagwatch.store.rows import TagKey, digest_of, ref_of, str_of, tag_key
from tagwatch.store.signatures import SignaturesMixin
from tagwatch.store.sql import aware, chunks, insert, returned
from tagwatch.store.thread_roots import ThreadRootsMixin
from tagwatch.store.watches import Watch, WatchesMixin

if TYPE_CHECKING:  # the dialect is imported by the engine that uses it (see sql.insert)
    from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["OutboxItem", "StoreTx", "Watch"]

log = logging.getLogger(__name__)


class StoreTx(WatchesMixin, BuildsMixin, LayersMixin, ThreadRootsMixin, SignaturesMixin):
    """The repository inside one transaction. It never commits: `Store.begin()` does."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.outbox = Outbox(session)
        self.leases = Leases(session)
        self.events = Events(session, self.histories)
        self.episodes = Episodes(session)
        self.findings = Findings(session)

    @property
    def audit(self) -> AuditReader:
        """Bounded and streamed reads of the audit trail, in this transaction."""
        return AuditReader(self._session)

    # -- helpers ------------------------------------------------------------------------

    def _insert(self, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
        return insert(self._session, model)

    def _returned(self, statement: Insert) -> Any:
        return returned(self._session, statement)

    # -- history ------------------------------------------------------------------------

    def history(self, ref: ImageRef) -> TagHistory:
        return self.histories([ref])[ref]

    def histories(self, refs: Iterable[ImageRef] | None = None) -> dict[ImageRef, TagHistory]:
        """The history of every ref asked (empty when never seen); None: every tag ever seen.

        One query per 1,000 refs, whatever their number.
        """
        columns = (
            SightingRow.host,
            SightingRow.repository,
            SightingRow.tag,
            SightingRow.digest,
            SightingRow.first_seen,
            SightingRow.last_seen,
            SightingRow.source,
            SightingRow.pushed_by,
        )
        order = (SightingRow.host, SightingRow.repository, SightingRow.tag, SightingRow.seq)
        found: dict[TagKey, list[Sighting]] = {}
        wanted: list[ImageRef] | None = None
        if refs is None:
            batches = [select(*columns).order_by(*order)]
        else:
            wanted = list(dict.fromkeys(refs))
            keys = list(dict.fromkeys(tag_key(r) for r in wanted))
            tag_columns = tuple_(SightingRow.host, SightingRow.repository, SightingRow.tag)
            batches = [
                select(*columns).where(tag_columns.in_(chunk)).order_by(*order)
                for chunk in chunks(keys)
            ]
        for statement in batches:
            for row in self._session.execute(statement):
                found.setdefault((row.host, row.repository, row.tag), []).append(
                    Sighting(
                        digest=digest_of(row.digest),
                        first_seen=row.first_seen,
                        last_seen=row.last_seen,
                        source=Source(row.source),
                        pushed_by=row.pushed_by,
                    )
                )
        if wanted is None:
            return {ref_of(*key): TagHistory(ref_of(*key), tuple(s)) for key, s in found.items()}
        return {ref: TagHistory(ref, tuple(found.get(tag_key(ref), ()))) for ref in wanted}

    def tags(self) -> list[tuple[ImageRef, Sighting]]:
        """Every tag ever seen with its current sighting, sorted by reference."""
        return sorted(
            (ref, h.sightings[-1]) for ref, h in self.histories(None).items() if h.sightings
        )

    def moves(self, ref: ImageRef | None = None, *, since: datetime | None = None) -> list[TagMove]:
        """The audit trail (a move per sighting, as `moves_of`), oldest first; None: all tags."""
        if ref is not None:
            histories = self.histories([ref])
        elif since is not None:
            # Only tags with a sighting since then have moves to show; each needs its whole
            # history to be classified.
            recent = (
                select(SightingRow.host, SightingRow.repository, SightingRow.tag)
                .where(SightingRow.first_seen >= aware(since))
                .distinct()
            )
            histories = self.histories([ref_of(*row) for row in self._session.execute(recent)])
        else:
            histories = self.histories(None)
        moves = [m for h in histories.values() for m in moves_of(h)]
        if since is not None:
            cutoff = aware(since)
            moves = [m for m in moves if m.detected_at >= cutoff]
        moves.sort(key=lambda m: (m.detected_at, str(m.ref)))
        return list(self.with_same_images(moves))

    def with_same_images(self, moves: Iterable[TagMove], batch: int = 500) -> Iterator[TagMove]:
        """`moves` (a list or a stream), each saying whether both its digests are indexes of
        the same platform images (core/builds); the builds are read a batch at a time."""
        chunk: list[TagMove] = []
        for move in moves:
            chunk.append(move)
            if len(chunk) >= batch:
                yield from self._same_images(chunk)
                chunk = []
        yield from self._same_images(chunk)

    def _same_images(self, moves: list[TagMove]) -> list[TagMove]:
        pairs = {
            d for m in moves if m.from_digest and m.to_digest for d in (m.from_digest, m.to_digest)
        }
        builds = self.builds(pairs) if pairs else {}
        return [with_same_images(m, builds) for m in moves] if builds else moves

    def record(self, observation: Observation, move: TagMove) -> bool:
        """Save the observation's build (once per digest) and append a sighting if it moved.

        Returns True when this call appended the sighting, so the caller alerts on a move
        exactly when it is the writer that recorded it.

        The decision to append is made against the latest stored row, not only `move`: a
        writer whose `move` was classified against a history another writer has since
        extended (e.g. both saw the same re-push) just advances `last_seen`.

        Concurrency: each tag's sightings are numbered by `seq`, unique per tag. An append
        inserts seq = latest + 1 with ON CONFLICT DO NOTHING. Of two writers appending the
        same seq, PostgreSQL makes the second wait for the first to commit and then skips
        its insert; we then re-read the latest row (READ COMMITTED sees the winner's) and
        decide again. SQLite transactions start with BEGIN IMMEDIATE, so writers run one
        after another and never race.

        An observation with another digest but seen before the latest row's `last_seen` is out
        of date and ignored (logged): sightings stay in time order, so `TagHistory.at()` holds.
        On PostgreSQL, record the tags of one transaction in a stable order (e.g. sorted):
        two transactions appending to the same tags in opposite orders can deadlock.
        """
        digest = observation.digest
        seen_at = aware(observation.seen_at)
        if observation.build is not None and digest is not None:
            self._save_build(digest, observation.build, seen_at)
        registry, repository, tag = tag_key(observation.ref.without_digest())
        same_tag = and_(
            SightingRow.host == registry,
            SightingRow.repository == repository,
            SightingRow.tag == tag,
        )
        for _attempt in range(5):
            latest = self._session.execute(
                select(SightingRow.id, SightingRow.seq, SightingRow.digest, SightingRow.last_seen)
                .where(same_tag)
                .order_by(SightingRow.seq.desc())
                .limit(1)
            ).first()
            if latest is None and digest is None:
                return False  # never seen and absent: nothing to record
            if (
                latest is not None
                and latest.digest != str_of(digest)
                and seen_at < latest.last_seen
            ):
                # Out of date: another writer recorded a later sighting (a webhook while this
                # poll waited on the registry). Appending it would rewind the tag and raise a
                # false "repointed" now and again at the next check; history stays in time order.
                log.info(
                    "%s: ignoring %s seen at %s, older than the recorded %s (last seen %s)",
                    observation.ref,
                    digest or "absent",
                    seen_at.isoformat(),
                    latest.digest or "absent",
                    latest.last_seen.isoformat(),
                )
                return False
            if latest is not None and latest.digest == str_of(digest):
                if move.is_move:
                    log.debug("%s: %s already recorded by another writer", observation.ref, digest)
                self._session.execute(
                    update(SightingRow)
                    .where(SightingRow.id == latest.id, SightingRow.last_seen < seen_at)
                    .values(last_seen=seen_at)
                    .execution_options(synchronize_session=False)
                )
                return False
            seq = 1 if latest is None else latest.seq + 1
            key = (registry, repository, tag)
            if self._append(
                key, seq, digest, seen_at, seen_at, observation.source, observation.pushed_by
            ):
                return True
        raise StoreError(f"{observation.ref}: too many concurrent writers recording this tag")

    def mark_seen(self, refs: Iterable[ImageRef], at: datetime) -> None:
        """Advance last_seen of each tag's latest sighting to `at` (never backwards), in bulk.

        A ref carrying the digest that was seen (`ref.withdigest_of(d)`) advances its tag only
        while the latest sighting still has that digest: if another writer recorded a move
        meanwhile, the new sighting is not credited with what this check saw.
        """
        at = aware(at)
        unpinned: dict[TagKey, None] = {}
        pinned: dict[TagKey, str] = {}
        for ref in refs:
            key = tag_key(ref.without_digest())
            if ref.digest is None:
                unpinned[key] = None
            else:
                pinned[key] = str(ref.digest)
        tag_columns = tuple_(SightingRow.host, SightingRow.repository, SightingRow.tag)
        with_digest = tuple_(
            SightingRow.host, SightingRow.repository, SightingRow.tag, SightingRow.digest
        )
        for chunk in chunks(list(unpinned)):
            self._advance(tag_columns.in_(chunk), None, at)
        for batch in chunks(list(pinned.items())):
            self._advance(
                tag_columns.in_([key for key, _ in batch]),
                with_digest.in_([(*key, seen) for key, seen in batch]),
                at,
            )

    def _advance(
        self, tags: ColumnElement[bool], guard: ColumnElement[bool] | None, at: datetime
    ) -> None:
        latest = (
            select(func.max(SightingRow.id))
            .where(tags)
            .group_by(SightingRow.host, SightingRow.repository, SightingRow.tag)
        )
        statement = update(SightingRow).where(
            SightingRow.id.in_(latest), SightingRow.last_seen < at
        )
        if guard is not None:
            statement = statement.where(guard)
        self._session.execute(
            statement.values(last_seen=at).execution_options(synchronize_session=False)
        )

    def record_backfill(
        self,
        ref: ImageRef,
        digest: Digest,
        *,
        first_seen: datetime,
        last_seen: datetime,
        build: BuildInfo | None = None,
    ) -> bool:
        """Record a vendor API's word as the first sighting of a tag with no history at all.

        Source is `backfill`. False (and nothing written) when the tag has any sighting: history
        is append-only and a backfill never goes before or between recorded rows. The insert is
        of seq 1 with ON CONFLICT DO NOTHING, so a poll recording the tag at the same moment
        wins and the backfill is refused, never duplicated.
        """
        first_seen, last_seen = aware(first_seen), aware(last_seen)
        if first_seen > last_seen:
            raise ValueError(f"{ref}: first_seen {first_seen} is after last_seen {last_seen}")
        registry, repository, tag = tag_key(ref.without_digest())
        exists = self._session.execute(
            select(SightingRow.id)
            .where(
                SightingRow.host == registry,
                SightingRow.repository == repository,
                SightingRow.tag == tag,
            )
            .limit(1)
        ).first()
        if exists is not None:
            return False
        if build is not None:
            self._save_build(digest, build, last_seen)
        return self._append(
            (registry, repository, tag), 1, digest, first_seen, last_seen, Source.BACKFILL
        )

    def _append(
        self,
        key: tuple[str, str, str],
        seq: int,
        digest: Digest | None,
        first_seen: datetime,
        last_seen: datetime,
        source: Source,
        pushed_by: str | None = None,
    ) -> bool:
        """Insert sighting number `seq` of a tag; False when another writer already has it.

        Every appended sighting gets its move event in the same transaction, so whoever
        records a move (a poll, a webhook, any CLI command, a scan's refresh, a backfill)
        leaves it for a service to route and deliver.
        """
        registry, repository, tag = key
        inserted = self._returned(
            self._insert(SightingRow)
            .values(
                host=registry,
                repository=repository,
                tag=tag,
                seq=seq,
                digest=str_of(digest),
                first_seen=first_seen,
                last_seen=last_seen,
                source=source.value,
                pushed_by=pushed_by,
            )
            .on_conflict_do_nothing(
                index_elements=[
                    SightingRow.host,
                    SightingRow.repository,
                    SightingRow.tag,
                    SightingRow.seq,
                ]
            )
            .returning(SightingRow.id)
        )
        if inserted is None:
            return False
        self.events.add(inserted, recorded_at=first_seen)
        return True
