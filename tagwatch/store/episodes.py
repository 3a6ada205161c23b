"""Episodes of cluster findings and the latest scan of each cluster (`tx.episodes`,
`tx.findings`): what the service alerts on, and what the skew board and the API show."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from tagwatch.core.routes import Condition
from tagwatch.store.models import ClusterFindingsRow, EpisodeRow
from tagwatch.store.sql import aware, insert, returned

__all__ = ["ClusterScan", "Episode", "EpisodeKey", "EpisodeState", "Episodes", "Findings"]

#: The largest page of episodes any caller gets, whatever it asks for.
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Episode:
    """One finding from first found to fixed; `closed_at` None while it lasts."""

    id: int
    key: str
    cluster: str
    condition: Condition
    kind: str
    namespace: str
    name: str
    container: str
    fingerprint: str
    opened_at: datetime
    closed_at: datetime | None
    payload: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class EpisodeKey:
    """Where an episode sits in a cluster's list, newest first: when it opened, then its id."""

    opened_at: datetime
    id: int


class EpisodeState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def _episode(row: EpisodeRow) -> Episode:
    return Episode(
        id=row.id,
        key=row.key,
        cluster=row.cluster,
        condition=Condition(row.condition),
        kind=row.kind,
        namespace=row.namespace,
        name=row.name,
        container=row.container,
        fingerprint=row.fingerprint,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        payload=row.payload,
    )


class Episodes:
    """The episodes inside one transaction. One scanner per cluster (the scan lease) writes."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def open_in(self, cluster: str) -> list[Episode]:
        """The episodes of `cluster` that are not closed, oldest first."""
        rows = self._session.execute(
            select(EpisodeRow)
            .where(EpisodeRow.cluster == cluster, EpisodeRow.closed_at.is_(None))
            .order_by(EpisodeRow.opened_at, EpisodeRow.id)
        ).scalars()
        return [_episode(r) for r in rows]

    def recent(self, *, cluster: str | None = None, limit: int = 100) -> list[Episode]:
        """The latest `limit` episodes (open or closed), newest first; None: every cluster."""
        query = select(EpisodeRow).order_by(EpisodeRow.opened_at.desc(), EpisodeRow.id.desc())
        if cluster is not None:
            query = query.where(EpisodeRow.cluster == cluster)
        rows = self._session.execute(query.limit(min(max(limit, 1), MAX_PAGE))).scalars()
        return [_episode(r) for r in rows]

    def page(
        self,
        cluster: str,
        *,
        after: EpisodeKey | None = None,
        limit: int = 100,
        state: EpisodeState | None = None,
    ) -> tuple[list[Episode], EpisodeKey | None]:
        """Up to `limit` episodes of `cluster` after `after`, newest first (None: open and
        closed), and the key to ask the next page after (None at the end)."""
        query = select(EpisodeRow).where(EpisodeRow.cluster == cluster)
        if state is EpisodeState.OPEN:
            query = query.where(EpisodeRow.closed_at.is_(None))
        elif state is EpisodeState.CLOSED:
            query = query.where(EpisodeRow.closed_at.is_not(None))
        if after is not None:
            position = tuple_(EpisodeRow.opened_at, EpisodeRow.id)
            query = query.where(position < tuple_(aware(after.opened_at), after.id))
        size = min(max(limit, 1), MAX_PAGE)
        rows = self._session.execute(
            query.order_by(EpisodeRow.opened_at.desc(), EpisodeRow.id.desc()).limit(size + 1)
        ).scalars()
        found = [_episode(r) for r in rows]
        page = found[:size]
        more = len(found) > size
        return page, (EpisodeKey(page[-1].opened_at, page[-1].id) if more else None)

    def open(
        self,
        *,
        key: str,
        cluster: str,
        condition: Condition,
        workload: tuple[str, str, str],
        container: str,
        fingerprint: str,
        payload: Mapping[str, Any],
        now: datetime,
    ) -> int:
        """Start an episode; returns its id."""
        kind, namespace, name = workload
        episode_id = returned(
            self._session,
            insert(self._session, EpisodeRow)
            .values(
                key=key,
                cluster=cluster,
                condition=condition.value,
                kind=kind,
                namespace=namespace,
                name=name,
                container=container,
                fingerprint=fingerprint,
                payload=dict(payload),
                opened_at=aware(now),
            )
            .returning(EpisodeRow.id),
        )
        return int(episode_id)

    def changed(self, episode_id: int, *, fingerprint: str, payload: Mapping[str, Any]) -> None:
        """The episode goes on in a new state (other digests, another predicted change)."""
        self._session.execute(
            update(EpisodeRow)
            .where(EpisodeRow.id == episode_id)
            .values(fingerprint=fingerprint, payload=dict(payload))
            .execution_options(synchronize_session=False)
        )

    def close(self, episode_id: int, *, now: datetime) -> None:
        self._session.execute(
            update(EpisodeRow)
            .where(EpisodeRow.id == episode_id, EpisodeRow.closed_at.is_(None))
            .values(closed_at=aware(now))
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True, slots=True)
class ClusterScan:
    """The latest scan of a cluster: `report` is the scan's JSON (`SkewReport.to_json`) from
    the last scan that succeeded; `error` says why the last one failed, if it did since."""

    cluster: str
    scanned_at: datetime | None
    report: Mapping[str, Any] = field(hash=False)
    failed_at: datetime | None = None
    error: str | None = None


class Findings:
    """The latest findings of each cluster inside one transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def replace(self, cluster: str, report: Mapping[str, Any], *, at: datetime) -> None:
        """Keep `report` as the cluster's latest findings (its failure, if any, is over)."""
        statement = insert(self._session, ClusterFindingsRow).values(
            cluster=cluster, scanned_at=aware(at), report=dict(report), failed_at=None, error=None
        )
        self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["cluster"],
                set_={
                    "scanned_at": statement.excluded.scanned_at,
                    "report": statement.excluded.report,
                    "failed_at": None,
                    "error": None,
                },
            )
        )

    def failed(self, cluster: str, error: str, *, at: datetime) -> None:
        """Say the cluster's scan failed; its last findings stay as they were."""
        statement = insert(self._session, ClusterFindingsRow).values(
            cluster=cluster, scanned_at=None, report={}, failed_at=aware(at), error=error[:4000]
        )
        self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["cluster"],
                set_={"failed_at": statement.excluded.failed_at, "error": statement.excluded.error},
            )
        )

    def latest(self, clusters: Iterable[str] | None = None) -> dict[str, ClusterScan]:
        """The latest scan of every cluster ever scanned (or of those named), by name."""
        query = select(ClusterFindingsRow).order_by(ClusterFindingsRow.cluster)
        if clusters is not None:
            query = query.where(ClusterFindingsRow.cluster.in_(list(clusters)))
        rows = self._session.execute(query).scalars()
        return {
            r.cluster: ClusterScan(r.cluster, r.scanned_at, r.report, r.failed_at, r.error)
            for r in rows
        }
