"""The watched tags: which tags to check, how often, with which labels."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from tagwatch.core.references import ImageRef
from tagwatch.core.times import utcnow
from tagwatch.store.models import WatchRow
from tagwatch.store.rows import ref_of, tag_key
from tagwatch.store.sql import aware, insert, returned
from tagwatch.store.watch_list import Watch

__all__ = ["Watch", "WatchesMixin"]


class WatchesMixin:
    """The watch queries of `StoreTx`."""

    _session: Session

    def add_watch(
        self,
        ref: ImageRef,
        *,
        interval_seconds: int | None = None,
        labels: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Watch `ref`; False when it was already watched (its interval and labels are replaced)."""
        registry, repository, tag = tag_key(ref)
        values = {"interval_seconds": interval_seconds, "labels": dict(labels or {})}
        inserted = returned(
            self._session,
            insert(self._session, WatchRow)
            .values(
                host=registry,
                repository=repository,
                tag=tag,
                added_at=aware(now or utcnow()),
                **values,
            )
            .on_conflict_do_nothing(
                index_elements=[WatchRow.host, WatchRow.repository, WatchRow.tag]
            )
            .returning(WatchRow.id),
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
        registry, repository, tag = tag_key(ref)
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
                ref=ref_of(r.host, r.repository, r.tag),
                interval_seconds=r.interval_seconds,
                labels={str(k): str(v) for k, v in r.labels.items()},
                added_at=r.added_at,
            )
            for r in rows
        ]
