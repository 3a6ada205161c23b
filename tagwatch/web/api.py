"""The read-only JSON API over the audit trail: tags, a tag's history, moves since a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from tagwatch.core.moves import Sighting, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.times import WHEN_PATTERN, parse_when
from tagwatch.errors import InvalidReference, StoreError
from tagwatch.store import Store

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["audit"])


class SightingOut(BaseModel):
    """A span of time during which the tag pointed to `digest` (null: the tag was absent)."""

    digest: str | None
    first_seen: datetime
    last_seen: datetime
    source: str


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


class ErrorOut(BaseModel):
    detail: str


def _sighting(s: Sighting) -> SightingOut:
    return SightingOut(
        digest=str(s.digest) if s.digest else None,
        first_seen=s.first_seen,
        last_seen=s.last_seen,
        source=s.source.value,
    )


def _move(m: TagMove) -> MoveOut:
    return MoveOut(
        ref=str(m.ref),
        change=m.change.value,
        from_digest=str(m.from_digest) if m.from_digest else None,
        to_digest=str(m.to_digest) if m.to_digest else None,
        window_start=m.window_start,
        detected_at=m.detected_at,
        source=m.source.value,
    )


def _store(request: Request) -> Store:
    store: Store = request.app.state.service.store
    return store


def _unavailable(exc: StoreError) -> HTTPException:
    return HTTPException(status_code=503, detail=str(exc))


@router.get("/tags", response_model=list[TagOut], responses={503: {"model": ErrorOut}})
def list_tags(request: Request) -> list[TagOut]:
    """Every tag with recorded history and its current sighting."""
    try:
        with _store(request).begin() as tx:
            rows = tx.tags()
    except StoreError as exc:
        raise _unavailable(exc) from exc
    return [TagOut(ref=str(ref), current=_sighting(s)) for ref, s in rows]


@router.get(
    "/tags/{ref:path}/history",
    response_model=HistoryOut,
    responses={404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)
def tag_history(ref: str, request: Request) -> HistoryOut:
    """Every digest `ref` (e.g. `ghcr.io/org/app:v1`) pointed to, oldest first."""
    # A reference that does not parse names no tag we could have history for: 404, with why.
    try:
        image = ImageRef.parse(ref)
    except InvalidReference as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    if image.tag is None or image.digest is not None:
        raise HTTPException(status_code=404, detail=f"{ref} is not a tag (history is kept per tag)")
    try:
        with _store(request).begin() as tx:
            history = tx.history(image)
    except StoreError as exc:
        raise _unavailable(exc) from exc
    if not history.sightings:
        raise HTTPException(status_code=404, detail=f"no history for {image}")
    return HistoryOut(ref=str(image), sightings=[_sighting(s) for s in history.sightings])


@router.get("/moves", response_model=list[MoveOut], responses={503: {"model": ErrorOut}})
def list_moves(
    request: Request,
    since: Annotated[
        str | None,
        Query(
            description="Only moves detected at or after this time: ISO 8601 "
            "(2026-11-29T10:00:00Z) or a span ago (90m, 2h, 7d), as `tagwatch history --since`",
            pattern=WHEN_PATTERN,
        ),
    ] = None,
) -> list[MoveOut]:
    """Moves of every tag, oldest first."""
    try:
        since_t = parse_when(since, now=datetime.now(UTC)) if since is not None else None
    except ValueError as exc:
        # The shape FastAPI documents for 422 (HTTPValidationError), so clients parse one form.
        detail = [{"loc": ["query", "since"], "msg": str(exc), "type": "value_error"}]
        raise HTTPException(status_code=422, detail=detail) from None
    try:
        with _store(request).begin() as tx:
            moves = tx.moves(since=since_t)
    except StoreError as exc:
        raise _unavailable(exc) from exc
    return [_move(m) for m in moves]
