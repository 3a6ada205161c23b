"""Move events: one for every sighting appended to the history, whoever appended it, for a
service to route into the outbox exactly once (`tx.events`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tagwatch.core.moves import TagHistory, TagMove, moves_of
from tagwatch.core.references import ImageRef
from tagwatch.store.models import MoveEventRow, SightingRow
from tagwatch.store.rows import ref_of
from tagwatch.store.sql import aware, insert

__all__ = ["EventState", "Events", "MoveEvent"]


class EventState(StrEnum):
    PENDING = "pending"  # recorded, not yet routed by any service
    ROUTED = "routed"  # its alerts are in the outbox (maybe none: no route took it)
    EXPIRED = "expired"  # older than the service's limit when it first met it: not sent


@dataclass(frozen=True, slots=True)
class MoveEvent:
    """A pending event and the move it records, as the history classifies it."""

    id: int
    move: TagMove
    recorded_at: datetime


class Events:
    """The move events inside one transaction."""

    def __init__(
        self,
        session: Session,
        histories: Callable[[Iterable[ImageRef]], Mapping[ImageRef, TagHistory]],
    ) -> None:
        self._session = session
        self._dialect = session.get_bind().dialect.name
        self._histories = histories

    def add(self, sighting_id: int, *, recorded_at: datetime) -> None:
        """The event of a sighting just appended (in the same transaction)."""
        self._session.execute(
            insert(self._session, MoveEventRow)
            .values(
                sighting_id=sighting_id,
                recorded_at=aware(recorded_at),
                state=EventState.PENDING.value,
            )
            .on_conflict_do_nothing(index_elements=["sighting_id"])
        )

    def claim_pending(self, *, limit: int = 200) -> list[MoveEvent]:
        """Up to `limit` pending events, oldest first, locked until this transaction ends.

        On PostgreSQL they are picked FOR UPDATE SKIP LOCKED, so replicas routing at once
        take disjoint events; SQLite's writers run one at a time anyway. Mark each one in
        the same transaction (`mark`) that queues its alerts.
        """
        query = (
            select(
                MoveEventRow.id,
                MoveEventRow.recorded_at,
                SightingRow.host,
                SightingRow.repository,
                SightingRow.tag,
                SightingRow.seq,
            )
            .join(SightingRow, SightingRow.id == MoveEventRow.sighting_id)
            .where(MoveEventRow.state == EventState.PENDING.value)
            .order_by(MoveEventRow.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=MoveEventRow)
        rows = self._session.execute(query).all()
        refs = {ref_of(r.host, r.repository, r.tag) for r in rows}
        histories = self._histories(refs) if refs else {}
        events: list[MoveEvent] = []
        for row in rows:
            history = histories[ref_of(row.host, row.repository, row.tag)]
            moves = moves_of(history)
            # seq numbers a tag's sightings 1, 2, 3… with no gaps (rows are never deleted).
            events.append(MoveEvent(row.id, moves[row.seq - 1], row.recorded_at))
        return events

    def mark(self, event_ids: Sequence[int], state: EventState, *, now: datetime) -> None:
        if not event_ids:
            return
        self._session.execute(
            update(MoveEventRow)
            .where(MoveEventRow.id.in_(list(event_ids)))
            .values(state=state.value, routed_at=aware(now))
            .execution_options(synchronize_session=False)
        )

    def counts(self) -> dict[EventState, int]:
        """How many events are in each state."""
        rows = self._session.execute(
            select(MoveEventRow.state, func.count()).group_by(MoveEventRow.state)
        ).all()
        found = {EventState(state): int(count) for state, count in rows}
        return {state: found.get(state, 0) for state in EventState}
