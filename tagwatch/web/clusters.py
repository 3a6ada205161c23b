"""The read-only API over the clusters: the latest skew findings and the episodes of each.

Both read what the scans stored, so every replica answers the same, before and after a restart.
Lists are bounded pages with cursors, as in `tagwatch.web.api`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from tagwatch.core.times import utcnow
from tagwatch.store.episodes import Episode, EpisodeState
from tagwatch.web import cursors
from tagwatch.web.api import PAGED, ErrorOut
from tagwatch.web.listing import (
    CursorQuery,
    LimitQuery,
    next_page,
    next_page_after,
    read_cursor,
    reading,
)
from tagwatch.web.scans import stored_scans

__all__ = ["configured", "router"]

router = APIRouter(prefix="/api/v1", tags=["skew"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: PAGED,
    400: {"model": ErrorOut},
    404: {"model": ErrorOut},
    503: {"model": ErrorOut},
}


class FindingsOut(BaseModel):
    """One page of the latest skew scan of a cluster (`tagwatch skew -o json`'s workloads)."""

    cluster: str
    generated_at: datetime | None = Field(description="When the scan shown was made.")
    skewed: int
    at_risk: int
    stuck_rollouts: int = 0
    failed_at: datetime | None = Field(
        None, description="When the scans since the one shown began to fail (null: they did not)."
    )
    error: str | None = Field(None, description="Why the last scan failed, when it did.")
    workloads: list[dict[str, Any]]


class EpisodeOut(BaseModel):
    """A workload container skewed, at risk or in a stuck rollout, from the scan that found it
    until the one that found it fixed."""

    id: int
    cluster: str
    condition: str = Field(description="`skewed`, `at_risk` or `stuck_rollout`.")
    kind: str
    namespace: str
    name: str
    container: str
    opened_at: datetime
    closed_at: datetime | None = Field(description="null while the episode lasts")
    open: bool
    duration_seconds: float = Field(description="Closed minus opened; so far, while open.")


def configured(request: Request, name: str) -> None:
    """404 unless cluster `name` is in the configuration."""
    if all(c.name != name for c in request.app.state.service.settings.clusters):
        raise HTTPException(status_code=404, detail=f"no cluster named {name!r} is configured")


def episode_out(episode: Episode, *, now: datetime) -> EpisodeOut:
    until = episode.closed_at or now
    return EpisodeOut(
        id=episode.id,
        cluster=episode.cluster,
        condition=episode.condition.value,
        kind=episode.kind,
        namespace=episode.namespace,
        name=episode.name,
        container=episode.container,
        opened_at=episode.opened_at,
        closed_at=episode.closed_at,
        open=episode.closed_at is None,
        duration_seconds=max(0.0, (until - episode.opened_at).total_seconds()),
    )


@router.get(
    "/clusters/{name}/findings",
    response_model=FindingsOut,
    responses=_RESPONSES | {409: {"model": ErrorOut}},
)
def cluster_findings(
    name: str,
    request: Request,
    response: Response,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    attention: Annotated[
        bool, Query(description="Only workloads skewed, at risk or with a stuck rollout.")
    ] = False,
) -> FindingsOut:
    """The findings of the latest scan of cluster `name` any replica stored (404 before one).

    A cursor belongs to one scan: after a newer scan it answers 409; start again without it.
    """
    configured(request, name)
    scanned_at, offset = read_cursor(cursor, cursors.decode_finding, (None, 0))
    with reading(request) as tx:
        scan = stored_scans(tx, [name]).get(name)
    if scan is None or scan.scanned_at is None:
        failure = f"; the last scan failed: {scan.error}" if scan and scan.error else ""
        raise HTTPException(
            status_code=404, detail=f"cluster {name} has not been scanned yet{failure}"
        )
    if cursor and scanned_at != scan.scanned_at:
        raise HTTPException(status_code=409, detail="a newer scan replaced this list: start again")
    workloads = scan.attention if attention else list(scan.workloads)
    page = workloads[offset : offset + limit]
    more = offset + limit < len(workloads)
    next_page(
        request, response, cursors.encode_finding(scan.scanned_at, offset + limit) if more else None
    )
    return FindingsOut(
        cluster=name,
        generated_at=scan.scanned_at,
        skewed=sum(1 for w in scan.workloads if w.skewed),
        at_risk=sum(1 for w in scan.workloads if w.at_risk),
        stuck_rollouts=sum(1 for w in scan.workloads if w.stuck_rollout),
        failed_at=scan.failed_at,
        error=scan.error,
        workloads=[dict(w.document) for w in page],
    )


@router.get(
    "/clusters/{name}/episodes",
    response_model=list[EpisodeOut],
    responses=_RESPONSES,
)
def cluster_episodes(
    name: str,
    request: Request,
    response: Response,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    state: Annotated[
        EpisodeState | None,
        Query(description="Only `open` episodes (still lasting) or only `closed` ones."),
    ] = None,
) -> list[EpisodeOut]:
    """The skew episodes of cluster `name`, open and closed, newest first, with durations."""
    configured(request, name)
    after = read_cursor(cursor, cursors.decode_episode, None)
    with reading(request) as tx:
        episodes, more = tx.episodes.page(name, after=after, limit=limit, state=state)
    next_page_after(request, response, more)
    now = utcnow()
    return [episode_out(e, now=now) for e in episodes]
