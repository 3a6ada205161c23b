"""What the API and the pages share: the moves filter read from a query string, page links."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import HTTPException, Query, Request, Response

from tagwatch.core.moves import Change
from tagwatch.core.references import ImageRef
from tagwatch.core.times import WHEN_PATTERN, parse_when, utcnow
from tagwatch.errors import InvalidReference, StoreError
from tagwatch.store import Store, StoreTx
from tagwatch.store.audit import MAX_LIMIT, MoveFilter, MoveKey, TagKey
from tagwatch.store.episodes import EpisodeKey
from tagwatch.web.cursors import BadCursor, encode

__all__ = [
    "CursorQuery",
    "LimitQuery",
    "bad_query",
    "cursor_error",
    "move_filter",
    "next_page",
    "next_page_after",
    "read_cursor",
    "reading",
    "store_of",
    "tag_ref",
    "unavailable",
]

LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page, at most {MAX_LIMIT}.")
]
CursorQuery = Annotated[
    str | None,
    Query(
        max_length=2048,
        description="Where the page starts: the `X-Next-Cursor` of the previous answer.",
    ),
]
#: A form's empty field means "not set".
_OPTIONAL_WHEN = f"^$|{WHEN_PATTERN}"
_WHEN = "ISO 8601 (2026-11-29T10:00:00Z) or a span ago (90m, 2h, 7d), as `tagwatch history --since`"


def bad_query(name: str, message: str) -> HTTPException:
    """A 422 in the shape FastAPI documents (HTTPValidationError), so clients parse one form."""
    detail = [{"loc": ["query", name], "msg": message, "type": "value_error"}]
    return HTTPException(status_code=422, detail=detail)


def unavailable(exc: StoreError) -> HTTPException:
    return HTTPException(status_code=503, detail=str(exc))


def store_of(request: Request) -> Store:
    store: Store = request.app.state.service.store
    return store


def _when(name: str, raw: str | None, now: datetime) -> datetime | None:
    if raw is None or raw == "":
        return None
    try:
        return parse_when(raw, now=now)
    except ValueError as exc:
        raise bad_query(name, str(exc)) from None


def move_filter(
    since: Annotated[
        str | None,
        Query(
            description=f"Only moves detected at or after this time: {_WHEN}",
            pattern=_OPTIONAL_WHEN,
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            description=f"Only moves detected at or before this time: {_WHEN}",
            pattern=_OPTIONAL_WHEN,
        ),
    ] = None,
    registry: Annotated[
        str | None, Query(max_length=255, description="Only this registry host (ghcr.io).")
    ] = None,
    repository: Annotated[
        str | None, Query(max_length=255, description="Only this repository (org/app).")
    ] = None,
    label: Annotated[
        str | None,
        Query(
            max_length=512,
            pattern=r"^$|^[^=]+=",
            description="Only tags watched with this label: `name=value`.",
        ),
    ] = None,
    change: Annotated[
        list[Change] | None, Query(description="Only these kinds of change (repeatable).")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=512, description="Only refs containing this text.")
    ] = None,
) -> MoveFilter:
    """The moves a query string asks for (empty parameters, as a form sends them, are unset)."""
    now = utcnow()
    wanted_label = None
    if label:
        name, equals, value = label.partition("=")
        if not equals or not name:
            raise bad_query("label", f"label {label!r} is not name=value (team=payments)")
        wanted_label = (name, value)
    return MoveFilter(
        registry=registry or None,
        repository=repository or None,
        label=wanted_label,
        changes=frozenset(change or ()),
        since=_when("since", since, now),
        until=_when("until", until, now),
        search=q or None,
    )


def tag_ref(ref: str) -> ImageRef:
    """The tag named in a path, or 404 saying why it names none."""
    # A reference that does not parse names no tag we could have history for: 404, with why.
    try:
        image = ImageRef.parse(ref)
    except InvalidReference as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    if image.tag is None or image.digest is not None:
        raise HTTPException(status_code=404, detail=f"{ref} is not a tag (history is kept per tag)")
    return image


def next_page(request: Request, response: Response, cursor: str | None) -> None:
    """Say where the next page starts: `X-Next-Cursor` and an RFC 8288 `Link: rel="next"`."""
    if cursor is None:
        return
    url = request.url.include_query_params(cursor=cursor)
    response.headers["X-Next-Cursor"] = cursor
    response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'


def next_page_after(
    request: Request, response: Response, more: MoveKey | TagKey | EpisodeKey | int | None
) -> None:
    """`next_page` for a keyset page: `more` is where the next one starts (None: the last)."""
    next_page(request, response, encode(more) if more else None)


def cursor_error(exc: BadCursor) -> HTTPException:
    return HTTPException(status_code=400, detail=f"cursor: {exc}")


_Position = TypeVar("_Position")
_Start = TypeVar("_Start")


def read_cursor(
    cursor: str | None, decode: Callable[[str], _Position], start: _Start
) -> _Position | _Start:
    """Where the page `cursor` asks for starts (`start` without one), or 400 saying why it
    names no position."""
    if not cursor:
        return start
    try:
        return decode(cursor)
    except BadCursor as exc:
        raise cursor_error(exc) from None


@contextmanager
def reading(request: Request) -> Iterator[StoreTx]:
    """One store transaction for an answer; the store failing is a 503 saying why."""
    try:
        with store_of(request).begin() as tx:
            yield tx
    except StoreError as exc:
        raise unavailable(exc) from exc
