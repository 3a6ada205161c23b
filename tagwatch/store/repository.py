"""The store: opening the database, transactions, and the repository that returns core objects."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Engine,
    Insert,
    and_,
    delete,
    func,
    inspect,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

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
from tagwatch.core.signing import SignatureStatus, SignatureVerdict
from tagwatch.errors import StoreError
from tagwatch.store.audit import AuditReader
from tagwatch.store.engine import (
    HEAD_REVISION,
    _first_line,
    current_revision,
    head_revision,
    known_revisions,
    make_engine,
    run_migrations,
    safe_url,
)
from tagwatch.store.models import (
    Base,
    BuildPlatformRow,
    BuildRow,
    LeaseRow,
    OutboxRow,
    SightingRow,
    SignatureCheckRow,
    SlackThreadRow,
    WatchRow,
)

__all__ = ["OutboxItem", "Store", "StoreTx", "Watch"]

log = logging.getLogger(__name__)

#: Refs per `IN` list: 3 parameters each stays far below SQLite's and PostgreSQL's limits.
_CHUNK = 1000
_T = TypeVar("_T")
_TagKey = tuple[str, str, str]


@dataclass(frozen=True)
class Watch:
    """A watched tag and how to watch it."""

    ref: ImageRef
    interval_seconds: int | None
    labels: Mapping[str, str]
    added_at: datetime


@dataclass(frozen=True)
class OutboxItem:
    """An undelivered alert claimed for delivery; `attempts` counts the failed deliveries so far."""

    id: int
    key: str
    destination: str
    kind: str
    payload: Mapping[str, Any] = field(hash=False)
    attempts: int
    created_at: datetime


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _key(ref: ImageRef) -> _TagKey:
    if ref.tag is None:
        raise ValueError(f"{ref} has no tag: the store records tags, not pinned digests")
    return (ref.registry, ref.repository, ref.tag)


def _ref(registry: str, repository: str, tag: str) -> ImageRef:
    return ImageRef(registry, repository, tag)


def _stored(raw: str) -> Digest:
    """A digest read back from our own tables: written from a parsed Digest, so not re-validated
    (parsing thousands of them per query was a third of `builds()`)."""
    algorithm, _, encoded = raw.partition(":")
    return Digest(algorithm, encoded)


def _digest(raw: str | None) -> Digest | None:
    return None if raw is None else _stored(raw)


def _str(digest: Digest | None) -> str | None:
    return None if digest is None else str(digest)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"naive datetime {when!r}: pass timezone-aware UTC times")
    return when.astimezone(UTC)


class StoreTx:
    """The repository inside one transaction. It never commits: `Store.begin()` does."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._dialect = session.get_bind().dialect.name

    @property
    def audit(self) -> AuditReader:
        """Bounded and streamed reads of the audit trail, in this transaction."""
        return AuditReader(self._session)

    # -- helpers ------------------------------------------------------------------------

    def _insert(self, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
        # Both dialects have INSERT ... ON CONFLICT and RETURNING (SQLite >= 3.35).
        if self._dialect == "postgresql":
            return postgresql.insert(model)
        if self._dialect == "sqlite":
            return sqlite.insert(model)
        raise StoreError(f"unsupported database {self._dialect!r}: use SQLite or PostgreSQL")

    def _returned(self, statement: Insert) -> Any:
        return self._session.execute(statement).scalar_one_or_none()

    # -- watches ------------------------------------------------------------------------

    def add_watch(
        self,
        ref: ImageRef,
        *,
        interval_seconds: int | None = None,
        labels: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Watch `ref`; False when it was already watched (its interval and labels are replaced)."""
        registry, repository, tag = _key(ref)
        values = {"interval_seconds": interval_seconds, "labels": dict(labels or {})}
        inserted = self._returned(
            self._insert(WatchRow)
            .values(
                host=registry,
                repository=repository,
                tag=tag,
                added_at=_aware(now or datetime.now(UTC)),
                **values,
            )
            .on_conflict_do_nothing(
                index_elements=[WatchRow.host, WatchRow.repository, WatchRow.tag]
            )
            .returning(WatchRow.id)
        )
        if inserted is not None:
            return True
        self._session.execute(
            update(WatchRow)
            .where(
                WatchRow.host == registry,
                WatchRow.repository == repository,
                WatchRow.tag == tag,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return False

    def remove_watch(self, ref: ImageRef) -> bool:
        """Stop watching `ref` (its history stays); False when it was not watched."""
        registry, repository, tag = _key(ref)
        removed = self._session.execute(
            delete(WatchRow)
            .where(
                WatchRow.host == registry,
                WatchRow.repository == repository,
                WatchRow.tag == tag,
            )
            .returning(WatchRow.id)
            .execution_options(synchronize_session=False)
        ).all()
        return bool(removed)

    def watches(self) -> list[Watch]:
        rows = self._session.execute(
            select(WatchRow).order_by(WatchRow.host, WatchRow.repository, WatchRow.tag)
        ).scalars()
        return [
            Watch(
                ref=_ref(r.host, r.repository, r.tag),
                interval_seconds=r.interval_seconds,
                labels={str(k): str(v) for k, v in r.labels.items()},
                added_at=r.added_at,
            )
            for r in rows
        ]

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
        )
        order = (SightingRow.host, SightingRow.repository, SightingRow.tag, SightingRow.seq)
        found: dict[_TagKey, list[Sighting]] = {}
        wanted: list[ImageRef] | None = None
        if refs is None:
            batches = [select(*columns).order_by(*order)]
        else:
            wanted = list(dict.fromkeys(refs))
            keys = list(dict.fromkeys(_key(r) for r in wanted))
            tag_columns = tuple_(SightingRow.host, SightingRow.repository, SightingRow.tag)
            batches = [
                select(*columns).where(tag_columns.in_(chunk)).order_by(*order)
                for chunk in _chunks(keys)
            ]
        for statement in batches:
            for row in self._session.execute(statement):
                found.setdefault((row.host, row.repository, row.tag), []).append(
                    Sighting(
                        digest=_digest(row.digest),
                        first_seen=row.first_seen,
                        last_seen=row.last_seen,
                        source=Source(row.source),
                    )
                )
        if wanted is None:
            return {_ref(*key): TagHistory(_ref(*key), tuple(s)) for key, s in found.items()}
        return {ref: TagHistory(ref, tuple(found.get(_key(ref), ()))) for ref in wanted}

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
                .where(SightingRow.first_seen >= _aware(since))
                .distinct()
            )
            histories = self.histories([_ref(*row) for row in self._session.execute(recent)])
        else:
            histories = self.histories(None)
        moves = [m for h in histories.values() for m in moves_of(h)]
        if since is not None:
            cutoff = _aware(since)
            moves = [m for m in moves if m.detected_at >= cutoff]
        moves.sort(key=lambda m: (m.detected_at, str(m.ref)))
        return moves

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
        seen_at = _aware(observation.seen_at)
        if observation.build is not None and digest is not None:
            self._save_build(digest, observation.build, seen_at)
        registry, repository, tag = _key(observation.ref.untagged())
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
            if latest is not None and latest.digest != _str(digest) and seen_at < latest.last_seen:
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
            if latest is not None and latest.digest == _str(digest):
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
            if self._append(key, seq, digest, seen_at, seen_at, observation.source):
                return True
        raise StoreError(f"{observation.ref}: too many concurrent writers recording this tag")

    def mark_seen(self, refs: Iterable[ImageRef], at: datetime) -> None:
        """Advance last_seen of each tag's latest sighting to `at` (never backwards), in bulk.

        A ref carrying the digest that was seen (`ref.with_digest(d)`) advances its tag only
        while the latest sighting still has that digest: if another writer recorded a move
        meanwhile, the new sighting is not credited with what this check saw.
        """
        at = _aware(at)
        unpinned: dict[_TagKey, None] = {}
        pinned: dict[_TagKey, str] = {}
        for ref in refs:
            key = _key(ref.untagged())
            if ref.digest is None:
                unpinned[key] = None
            else:
                pinned[key] = str(ref.digest)
        tag_columns = tuple_(SightingRow.host, SightingRow.repository, SightingRow.tag)
        with_digest = tuple_(
            SightingRow.host, SightingRow.repository, SightingRow.tag, SightingRow.digest
        )
        for chunk in _chunks(list(unpinned)):
            self._advance(tag_columns.in_(chunk), None, at)
        for batch in _chunks(list(pinned.items())):
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
        first_seen, last_seen = _aware(first_seen), _aware(last_seen)
        if first_seen > last_seen:
            raise ValueError(f"{ref}: first_seen {first_seen} is after last_seen {last_seen}")
        registry, repository, tag = _key(ref.untagged())
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
    ) -> bool:
        """Insert sighting number `seq` of a tag; False when another writer already has it."""
        registry, repository, tag = key
        inserted = self._returned(
            self._insert(SightingRow)
            .values(
                host=registry,
                repository=repository,
                tag=tag,
                seq=seq,
                digest=_str(digest),
                first_seen=first_seen,
                last_seen=last_seen,
                source=source.value,
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
        return inserted is not None

    # -- builds -------------------------------------------------------------------------

    def _save_build(self, digest: Digest, build: BuildInfo, at: datetime) -> None:
        inserted = self._returned(
            self._insert(BuildRow)
            .values(
                digest=str(digest),
                media_type=build.media_type,
                labels=dict(build.labels),
                recorded_at=at,
            )
            .on_conflict_do_nothing(index_elements=["digest"])
            .returning(BuildRow.digest)
        )
        if inserted is None or not build.platforms:
            return
        self._session.execute(
            self._insert(BuildPlatformRow)
            .values(
                [
                    {"index_digest": str(digest), "platform": platform, "child_digest": str(child)}
                    for platform, child in build.platforms.items()
                ]
            )
            .on_conflict_do_nothing(index_elements=["index_digest", "platform"])
        )

    def known_digests(self, digests: Iterable[Digest]) -> set[Digest]:
        """Which of `digests` have their build recorded."""
        wanted = sorted({str(d) for d in digests})
        found: set[Digest] = set()
        for chunk in _chunks(wanted):
            rows = self._session.execute(select(BuildRow.digest).where(BuildRow.digest.in_(chunk)))
            found.update(_stored(d) for d in rows.scalars())
        return found

    def builds(self, digests: Iterable[Digest]) -> dict[Digest, BuildInfo]:
        """The recorded builds of `digests` (unknown ones left out), with platforms for indexes."""
        wanted = sorted({str(d) for d in digests})
        rows: list[Any] = []
        platforms: dict[str, dict[str, Digest]] = {}
        # Plain column rows, not ORM entities: several times faster for thousands of builds.
        for chunk in _chunks(wanted):
            rows += self._session.execute(
                select(BuildRow.digest, BuildRow.media_type, BuildRow.labels).where(
                    BuildRow.digest.in_(chunk)
                )
            )
            for index, platform, child in self._session.execute(
                select(
                    BuildPlatformRow.index_digest,
                    BuildPlatformRow.platform,
                    BuildPlatformRow.child_digest,
                ).where(BuildPlatformRow.index_digest.in_(chunk))
            ):
                platforms.setdefault(index, {})[platform] = _stored(child)
        return {
            _stored(r.digest): BuildInfo(
                media_type=r.media_type,
                platforms=dict(sorted(platforms.get(r.digest, {}).items())),
                labels={str(k): str(v) for k, v in r.labels.items()},
            )
            for r in rows
        }

    def index_of(self, children: Iterable[Digest]) -> dict[Digest, Digest]:
        """For each child digest listed by a recorded index, an index listing it (the lowest)."""
        wanted = sorted({str(d) for d in children})
        found: dict[Digest, Digest] = {}
        for chunk in _chunks(wanted):
            rows = self._session.execute(
                select(BuildPlatformRow.child_digest, func.min(BuildPlatformRow.index_digest))
                .where(BuildPlatformRow.child_digest.in_(chunk))
                .group_by(BuildPlatformRow.child_digest)
            )
            found.update((_stored(child), _stored(index)) for child, index in rows)
        return found

    # -- outbox -------------------------------------------------------------------------

    def enqueue(
        self,
        *,
        key: str,
        destination: str,
        kind: str,
        payload: Mapping[str, Any],
        now: datetime,
    ) -> bool:
        """Queue an alert for delivery now; False when `key` was queued before (idempotent).

        ON CONFLICT DO NOTHING, so a duplicate never aborts the caller's transaction.
        """
        now = _aware(now)
        inserted = self._returned(
            self._insert(OutboxRow)
            .values(
                key=key,
                destination=destination,
                kind=kind,
                payload=dict(payload),
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(OutboxRow.id)
        )
        return inserted is not None

    def claim_due(
        self, *, now: datetime, worker: str, limit: int = 20, lease_seconds: int = 60
    ) -> list[OutboxItem]:
        """Claim up to `limit` undelivered items due by `now` for `worker`, oldest first.

        A claim lasts `lease_seconds`: if the worker dies, the item is due again after it.
        On PostgreSQL the rows are picked FOR UPDATE SKIP LOCKED, so concurrent workers
        claim disjoint sets without waiting for each other.
        """
        now = _aware(now)
        due = (
            select(OutboxRow.id)
            .where(
                OutboxRow.delivered_at.is_(None),
                OutboxRow.next_attempt_at <= now,
                or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until <= now),
            )
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        rows = self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(due.scalar_subquery()))
            .values(claimed_by=worker, claimed_until=now + timedelta(seconds=lease_seconds))
            .returning(
                OutboxRow.id,
                OutboxRow.key,
                OutboxRow.destination,
                OutboxRow.kind,
                OutboxRow.payload,
                OutboxRow.attempts,
                OutboxRow.created_at,
                OutboxRow.next_attempt_at,
            )
            .execution_options(synchronize_session=False)
        ).all()
        return [
            OutboxItem(
                id=r.id,
                key=r.key,
                destination=r.destination,
                kind=r.kind,
                payload=r.payload,
                attempts=r.attempts,
                created_at=r.created_at,
            )
            for r in sorted(rows, key=lambda r: (r.next_attempt_at, r.id))
        ]

    def mark_delivered(self, item_id: int, *, now: datetime) -> None:
        self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == item_id)
            .values(delivered_at=_aware(now), claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )

    def mark_failed(self, item_id: int, *, error: str, retry_at: datetime) -> None:
        """Count a failed delivery, keep its error, and make the item due again at `retry_at`."""
        self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == item_id)
            .values(
                attempts=OutboxRow.attempts + 1,
                last_error=error[:4000],
                next_attempt_at=_aware(retry_at),
                claimed_by=None,
                claimed_until=None,
            )
            .execution_options(synchronize_session=False)
        )

    def retry_parked(self, *, now: datetime, parked_beyond: timedelta) -> int:
        """Make undelivered items waiting more than `parked_beyond` past `now` due now.

        A service calls it when it starts: a restart usually follows fixing a Slack token or
        channel, and alerts parked for hours after a permanent failure must not wait once the
        cause is gone. Items on a short backoff, or marked while another replica delivers
        them, wait less than `parked_beyond` and are left alone. Returns how many were woken.
        """
        now = _aware(now)
        result = self._session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.delivered_at.is_(None),
                OutboxRow.next_attempt_at > now + parked_beyond,
                or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
            )
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def outbox_depth(self) -> int:
        """How many items are not delivered yet."""
        count = self._session.execute(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.delivered_at.is_(None))
        ).scalar_one()
        return int(count)

    # -- leases -------------------------------------------------------------------------

    def acquire_lease(self, name: str, *, holder: str, now: datetime, ttl_seconds: int) -> bool:
        """Take or renew the lease `name` until now + ttl; False while another holder has it.

        One atomic upsert: insert, or update only when we hold it already or it expired.
        """
        now = _aware(now)
        statement = self._insert(LeaseRow).values(
            name=name, holder=holder, expires_at=now + timedelta(seconds=ttl_seconds)
        )
        condition: ColumnElement[bool] = or_(LeaseRow.holder == holder, LeaseRow.expires_at <= now)
        acquired = self._returned(
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "holder": statement.excluded.holder,
                    "expires_at": statement.excluded.expires_at,
                },
                where=condition,
            ).returning(LeaseRow.name)
        )
        return acquired is not None

    def release_lease(self, name: str, *, holder: str) -> None:
        """Give the lease up, if `holder` holds it."""
        self._session.execute(
            delete(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.holder == holder)
            .execution_options(synchronize_session=False)
        )

    # -- slack thread roots -------------------------------------------------------------

    def thread_root(self, channel: str, thread: str) -> str | None:
        """The `ts` of the first message of `thread` in Slack channel `channel`, if kept."""
        return self._session.execute(
            select(SlackThreadRow.ts).where(
                SlackThreadRow.channel == channel, SlackThreadRow.thread == thread
            )
        ).scalar_one_or_none()

    def keep_thread_root(self, channel: str, thread: str, ts: str, *, now: datetime) -> str:
        """Keep `ts` as the thread's root unless one is kept already (another replica's
        post got there first); returns the kept root."""
        self._session.execute(
            self._insert(SlackThreadRow)
            .values(channel=channel, thread=thread, ts=ts, created_at=_aware(now))
            .on_conflict_do_nothing(index_elements=["channel", "thread"])
        )
        kept = self.thread_root(channel, thread)
        return ts if kept is None else kept

    def forget_thread_root(self, channel: str, thread: str, ts: str) -> None:
        """Drop the root `ts` of `thread` (its message is gone); a newer root stays."""
        self._session.execute(
            delete(SlackThreadRow)
            .where(
                SlackThreadRow.channel == channel,
                SlackThreadRow.thread == thread,
                SlackThreadRow.ts == ts,
            )
            .execution_options(synchronize_session=False)
        )

    # -- signature checks ---------------------------------------------------------------

    def record_signature(
        self, ref: ImageRef, digest: Digest, verdict: SignatureVerdict, *, at: datetime
    ) -> None:
        """Keep `verdict` as what the policy says of `digest` in `ref`'s repository now."""
        values = {
            "host": ref.registry,
            "repository": ref.repository,
            "digest": str(digest),
            "policy": verdict.policy,
            "status": verdict.status.value,
            "signed_by": verdict.signed_by,
            "reason": verdict.reason,
            "checked_at": _aware(at),
        }
        keys = ["registry", "repository", "digest", "policy"]
        changed = {k: values[k] for k in ("status", "signed_by", "reason", "checked_at")}
        self._session.execute(
            self._insert(SignatureCheckRow)
            .values(**values)
            .on_conflict_do_update(index_elements=keys, set_=changed)
        )

    def signatures(
        self, refs: Iterable[ImageRef] | None = None
    ) -> dict[tuple[str, str, str], SignatureVerdict]:
        """The latest verdicts on the digests of `refs`' repositories (None: every one), keyed
        by (registry, repository, digest). Only digests under a signing policy have one."""
        query = select(SignatureCheckRow).order_by(SignatureCheckRow.checked_at)
        repos = repo_columns = None
        if refs is not None:
            repos = sorted({(r.registry, r.repository) for r in refs})
            repo_columns = tuple_(SignatureCheckRow.host, SignatureCheckRow.repository)
        found: dict[tuple[str, str, str], SignatureVerdict] = {}
        for chunk in [None] if repos is None else _chunks(repos, 200):
            chosen = query if chunk is None else query.where(repo_columns.in_(chunk))  # type: ignore[union-attr]
            for row in self._session.execute(chosen).scalars():
                found[(row.host, row.repository, row.digest)] = SignatureVerdict(
                    row.policy, SignatureStatus(row.status), row.signed_by, row.reason
                )
        return found


_OUR_TABLES = frozenset(table.name for table in Base.metadata.sorted_tables)


class Store:
    """A database holding tagwatch's history, builds, outbox and leases."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Open the database at `url`; an empty one is migrated to the latest schema.

        Raises StoreError when the database cannot be reached, or is at another revision
        (run `tagwatch db upgrade`).
        """
        engine = make_engine(url)
        try:
            cls._check_schema(engine, url, migrate=migrate)
        except DBAPIError as exc:
            engine.dispose()
            raise StoreError(f"cannot open database {safe_url(url)}: {_first_line(exc)}") from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @staticmethod
    def _check_schema(engine: Engine, url: str, *, migrate: bool) -> None:
        with engine.connect() as connection:
            current = current_revision(connection)
            if current == HEAD_REVISION:
                return  # the usual case, decided without importing Alembic
            head = head_revision()
            if current is None:
                ours = _OUR_TABLES & set(inspect(connection).get_table_names())
                if ours:
                    # A replica migrating at the same time may have committed since we read
                    # the revision: on PostgreSQL each statement sees what is committed, and
                    # its tables and revision are committed together.
                    current = current_revision(connection)
                if ours and current is None:
                    raise StoreError(
                        f"database {safe_url(url)} has tagwatch tables ({', '.join(sorted(ours))}) "
                        "but no schema revision; restore it or use an empty database"
                    )
                if not ours:
                    if not migrate:
                        raise StoreError(
                            f"database {safe_url(url)} is empty; run `tagwatch db upgrade`"
                        )
                    log.info("creating the tagwatch schema in %s", safe_url(url))
                    run_migrations(connection)
                    return
            if current == head:
                return
            if current in known_revisions():
                raise StoreError(f"database is at revision {current}; run `tagwatch db upgrade`")
            raise StoreError(
                f"database is at revision {current}, which this tagwatch does not know "
                f"(latest is {head}); upgrade tagwatch"
            )

    @contextmanager
    def begin(self) -> Iterator[StoreTx]:
        """One transaction: commits when the block ends, rolls back when it raises."""
        try:
            with self._sessions.begin() as session:
                yield StoreTx(session)
        except (OperationalError, InterfaceError) as exc:
            where = self.engine.url.render_as_string(hide_password=True)
            raise StoreError(f"database {where}: {_first_line(exc)}") from exc

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
