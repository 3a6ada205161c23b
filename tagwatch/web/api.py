"""The read-only JSON API over the audit trail: tags, a tag's history and builds, moves
(the clusters' findings and episodes are in `tagwatch.web.clusters`).

Every list is one bounded page (`limit`, at most 1,000). When more follow, the answer carries
`X-Next-Cursor` and `Link: <…>; rel="next"`; ask again with `cursor=` set to it. Pages are
keyset-addressed, so moves recorded while a client pages never shift or repeat items.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from tagwatch.core.moves import BuildInfo, Sighting, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.store.audit import MoveFilter
from tagwatch.web import cursors
from tagwatch.web.listing import (
    CursorQuery,
    LimitQuery,
    move_filter,
    next_page_after,
    read_cursor,
    reading,
    tag_ref,
)

__all__ = ["PAGED", "ErrorOut", "router"]

router = APIRouter(prefix="/api/v1", tags=["audit"])


class SightingOut(BaseModel):
    """A span of time during which the tag pointed to `digest` (null: the tag was absent)."""

    digest: str | None
    first_seen: datetime
    last_seen: datetime
    source: str
    pushed_by: str | None = None


class TagOut(BaseModel):
    """A tag with history and what it points to now."""

    ref: str
    current: SightingOut


class HistoryOut(BaseModel):
    ref: str
    sightings: list[SightingOut]


class MoveOut(BaseModel):
    """A detected move: between window_start and detected_at the tag changed digest."""

    ref: str
    change: str
    from_digest: str | None
    to_digest: str | None
    window_start: datetime | None
    detected_at: datetime
    source: str
    same_images: bool = Field(
        False, description="Both digests are indexes of the same platform images."
    )
    pushed_by: str | None = None


class BuildOut(BaseModel):
    """The build behind a digest the tag pointed to: OCI labels, and platforms of an index."""

    digest: str
    media_type: str
    revision: str | None
    source: str | None
    created: str | None
    labels: dict[str, str]
    platforms: dict[str, str]


class BuildsOut(BaseModel):
    """The builds `ref` pointed to, in the order it first did; digests never recorded with a
    build (seen before builds were kept) are listed in `unknown`."""

    ref: str
    builds: list[BuildOut]
    unknown: list[str]


class ErrorOut(BaseModel):
    detail: str


class Order(StrEnum):
    oldest = "oldest"
    newest = "newest"


PAGED: dict[str, Any] = {
    "headers": {
        "X-Next-Cursor": {"description": "the cursor of the next page; absent on the last"},
        "Link": {"description": 'RFC 8288 `<url>; rel="next"`; absent on the last page'},
    }
}

_ONE_TAG: dict[int | str, dict[str, Any]] = {
    200: PAGED,
    400: {"model": ErrorOut},
    404: {"model": ErrorOut},
    503: {"model": ErrorOut},
}


def _has_history(image: ImageRef, *, first_page: bool, items: Sequence[object]) -> None:
    """404 when the first page of a tag's history is empty: nothing was ever recorded for it
    (a later page that is empty is only the end of the list)."""
    if first_page and not items:
        raise HTTPException(status_code=404, detail=f"no history for {image}")


def sighting_out(s: Sighting) -> SightingOut:
    return SightingOut(
        digest=str(s.digest) if s.digest else None,
        first_seen=s.first_seen,
        last_seen=s.last_seen,
        source=s.source.value,
        pushed_by=s.pushed_by,
    )


def move_out(m: TagMove) -> MoveOut:
    return MoveOut(
        ref=str(m.ref),
        change=m.change.value,
        from_digest=str(m.from_digest) if m.from_digest else None,
        to_digest=str(m.to_digest) if m.to_digest else None,
        window_start=m.window_start,
        detected_at=m.detected_at,
        source=m.source.value,
        same_images=m.same_images,
        pushed_by=m.pushed_by,
    )


def build_out(digest: str, build: BuildInfo) -> BuildOut:
    return BuildOut(
        digest=digest,
        media_type=build.media_type,
        revision=build.revision,
        source=build.source,
        created=build.label("created"),
        labels=dict(build.labels),
        platforms={p: str(d) for p, d in build.platforms.items()},
    )


@router.get(
    "/tags",
    response_model=list[TagOut],
    responses={200: PAGED, 400: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)
def list_tags(
    request: Request,
    response: Response,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    q: Annotated[
        str | None, Query(max_length=512, description="Only refs containing this text.")
    ] = None,
) -> list[TagOut]:
    """Tags with recorded history and their current sighting, sorted by reference."""
    after = read_cursor(cursor, cursors.decode_tag, None)
    with reading(request) as tx:
        rows, more = tx.audit.tags_page(after=after, limit=limit, search=q or None)
    next_page_after(request, response, more)
    return [TagOut(ref=str(ref), current=sighting_out(s)) for ref, s in rows]


@router.get(
    "/tags/{ref:path}/history",
    response_model=HistoryOut,
    responses=_ONE_TAG,
)
def tag_history(
    ref: str,
    request: Request,
    response: Response,
    limit: LimitQuery = 1000,
    cursor: CursorQuery = None,
) -> HistoryOut:
    """Every digest `ref` (e.g. `ghcr.io/org/app:v1`) pointed to, oldest first."""
    image = tag_ref(ref)
    after = read_cursor(cursor, cursors.decode_seq, 0)
    with reading(request) as tx:
        sightings, more = tx.audit.sightings_page(image, after_seq=after, limit=limit)
    _has_history(image, first_page=after == 0, items=sightings)
    next_page_after(request, response, more)
    return HistoryOut(ref=str(image), sightings=[sighting_out(s) for s in sightings])


@router.get(
    "/tags/{ref:path}/builds",
    response_model=BuildsOut,
    responses=_ONE_TAG,
)
def tag_builds(
    ref: str,
    request: Request,
    response: Response,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> BuildsOut:
    """The builds (revision, labels, platforms) of each digest `ref` pointed to."""
    image = tag_ref(ref)
    after = read_cursor(cursor, cursors.decode_seq, 0)
    with reading(request) as tx:
        digests, more = tx.audit.digests_page(image, after_seq=after, limit=limit)
        builds = tx.builds(digests)
    _has_history(image, first_page=after == 0, items=digests)
    next_page_after(request, response, more)
    return BuildsOut(
        ref=str(image),
        builds=[build_out(str(d), builds[d]) for d in digests if d in builds],
        unknown=[str(d) for d in digests if d not in builds],
    )


@router.get(
    "/moves",
    response_model=list[MoveOut],
    responses={200: PAGED, 400: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)
def list_moves(
    request: Request,
    response: Response,
    wanted: Annotated[MoveFilter, Depends(move_filter)],
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    order: Annotated[
        Order, Query(description="`oldest` first (an audit trail) or `newest` first (a feed).")
    ] = Order.oldest,
) -> list[MoveOut]:
    """Moves of every tag (or those the filters name), oldest first."""
    after = read_cursor(cursor, cursors.decode_move, None)
    with reading(request) as tx:
        page, more = tx.audit.moves_page(
            wanted, after=after, limit=limit, newest_first=order is Order.newest
        )
        moves = list(tx.with_same_images(r.move for r in page))
    next_page_after(request, response, more)
    return [move_out(m) for m in moves]
