"""Named leases that replicas take and renew in the database (`tx.leases`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_
from sqlalchemy.orm import Session

from tagwatch.store.models import LeaseRow
from tagwatch.store.sql import aware, insert, returned

__all__ = ["Leases"]


class Leases:
    """The leases inside one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def acquire(self, name: str, *, holder: str, now: datetime, ttl_seconds: int) -> bool:
        """Take or renew the lease `name` until now + ttl; False while another holder has it.

        One atomic upsert: insert, or update only when we hold it already or it expired.
        """
        now = aware(now)
        statement = insert(self._session, LeaseRow).values(
            name=name, holder=holder, expires_at=now + timedelta(seconds=ttl_seconds)
        )
        condition: ColumnElement[bool] = or_(LeaseRow.holder == holder, LeaseRow.expires_at <= now)
        acquired = returned(
            self._session,
            statement.on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "holder": statement.excluded.holder,
                    "expires_at": statement.excluded.expires_at,
                },
                where=condition,
            ).returning(LeaseRow.name),
        )
        return acquired is not None

    def release(self, name: str, *, holder: str) -> None:
        """Give the lease up, if `holder` holds it."""
        self._session.execute(
            delete(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.holder == holder)
            .execution_options(synchronize_session=False)
        )
