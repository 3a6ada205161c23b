"""The outbox: alerts queued with the fact they report, claimed and marked by delivery workers
(`tx.outbox`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from tagwatch.store.models import OutboxRow
from tagwatch.store.sql import aware, insert, returned

__all__ = ["Outbox", "OutboxItem"]


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


class Outbox:
    """The outbox inside one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._dialect = session.get_bind().dialect.name

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
        now = aware(now)
        inserted = returned(
            self._session,
            insert(self._session, OutboxRow)
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
            .returning(OutboxRow.id),
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
        now = aware(now)
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
            .values(delivered_at=aware(now), claimed_by=None, claimed_until=None)
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
                next_attempt_at=aware(retry_at),
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
        now = aware(now)
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

    def oldest_pending(self) -> datetime | None:
        """When the oldest item not delivered yet was queued (None: nothing pending)."""
        oldest = self._session.execute(
            select(func.min(OutboxRow.created_at)).where(OutboxRow.delivered_at.is_(None))
        ).scalar_one()
        return aware(oldest) if oldest is not None else None

    def depth(self) -> int:
        """How many items are not delivered yet."""
        count = self._session.execute(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.delivered_at.is_(None))
        ).scalar_one()
        return int(count)
