"""Page routes: `/` the moves feed, `/tags/<ref>` a tag's timeline, `/docs` offline."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from tagwatch.core.moves import Change
from tagwatch.core.references import ImageRef
from tagwatch.core.times import parse_when, utcnow
from tagwatch.errors import InvalidReference, StoreError
from tagwatch.store import StoreTx
from tagwatch.store.audit import MoveFilter, digests_of
from tagwatch.web import cursors
from tagwatch.web.listing import move_filter, store_of, tag_ref
from tagwatch.web.pages.board import pod_groups, running_now, state_words
from tagwatch.web.pages.render import STATIC, templates
from tagwatch.web.pages.timeline import layout
from tagwatch.web.scans import stored_scans

__all__ = ["mount", "router"]

router = APIRouter(include_in_schema=False)

#: Moves on one page of the feed.
FEED_PAGE = 50
#: Episodes listed on a board, newest first.
EPISODES_SHOWN = 100
#: Sightings drawn on a timeline (the latest ones); older ones are in the API's pages.
TIMELINE_MAX = 500

_FILTERS = ("registry", "repository", "label", "since", "until", "q")


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    service = request.app.state.service
    context.setdefault("clusters", [c.name for c in service.settings.clusters])
    return templates.TemplateResponse(request, template, context, status_code=status)


class _StoreUnavailable(Exception):
    """The store failed while reading a page; `mount` renders it as error.html, 503."""

    def __init__(self, cause: StoreError) -> None:
        super().__init__(str(cause))


@contextmanager
def _reading(request: Request) -> Iterator[StoreTx]:
    """One store transaction for a page; the store failing is the 503 page saying why.

    The pages' twin of `listing.reading`: the same steps, an HTML answer instead of JSON.
    """
    try:
        with store_of(request).begin() as tx:
            yield tx
    except StoreError as exc:
        raise _StoreUnavailable(exc) from exc


def _unavailable(request: Request, exc: Exception) -> HTMLResponse:
    return _page(request, "error.html", 503, problem=str(exc))


def _problem(exc: HTTPException) -> str:
    detail = exc.detail
    if isinstance(detail, list):
        return "; ".join(f"{d['loc'][-1]}: {d['msg']}" for d in detail)
    return str(detail)


@router.get("/", response_class=HTMLResponse)
def feed(
    request: Request,
    change: Annotated[list[str] | None, Query()] = None,
    cursor: str | None = None,
    registry: str | None = None,
    repository: str | None = None,
    label: str | None = None,
    since: str | None = None,
    until: str | None = None,
    q: str | None = None,
) -> HTMLResponse:
    """The latest moves across all tags, newest first, filtered as the form says."""
    form = {
        "registry": registry or "",
        "repository": repository or "",
        "label": label or "",
        "since": since or "",
        "until": until or "",
        "q": q or "",
        "change": list(change or ()),
    }
    problem = None
    moves: list[Any] = []
    older = None
    try:
        kinds = [Change(c) for c in change or () if c]
    except ValueError:
        kinds = []
        problem = f"change: pick among {', '.join(c.value for c in Change)}"
    try:
        wanted = move_filter(
            since=since,
            until=until,
            registry=registry,
            repository=repository,
            label=label,
            change=kinds,
            q=q,
        )
        after = cursors.decode_move(cursor) if cursor else None
    except HTTPException as exc:
        wanted, after, problem = MoveFilter(), None, _problem(exc)
    except cursors.BadCursor as exc:
        wanted, after, problem = MoveFilter(), None, f"cursor: {exc}"
    if problem is None:
        with _reading(request) as tx:
            page, more = tx.audit.moves_page(
                wanted, after=after, limit=FEED_PAGE, newest_first=True
            )
        moves = [r.move for r in page]
        if more is not None:
            older = request.url.include_query_params(cursor=cursors.encode(more))
    status = 422 if problem else 200
    return _page(
        request,
        "feed.html",
        status,
        moves=moves,
        form=form,
        problem=problem,
        kinds=[c.value for c in Change if c is not Change.UNCHANGED],
        older=older,
        filtered=any(form[k] for k in _FILTERS) or bool(change),
    )


@router.get("/tags/{ref:path}", response_class=HTMLResponse)
def timeline(request: Request, ref: str, at: str | None = None) -> HTMLResponse:
    """A tag's digests over time as bands, their builds, move windows, and `--at` lookup."""
    try:
        image = tag_ref(ref)
    except HTTPException as exc:
        return _page(request, "error.html", 404, problem=str(exc.detail))
    clusters = [c.name for c in request.app.state.service.settings.clusters]
    with _reading(request) as tx:
        history = tx.history(image)
        builds = tx.builds(digests_of(history.sightings[-TIMELINE_MAX:]))
        verdicts = {digest: verdict for (_, _, digest), verdict in tx.signatures([image]).items()}
        scans = stored_scans(tx, clusters) if history.sightings else {}
    if not history.sightings:
        return _page(request, "error.html", 404, problem=f"no history for {image}")
    now = utcnow()
    lookup: dict[str, Any] | None = None
    if at:
        try:
            when = parse_when(at, now=now)
        except ValueError as exc:
            lookup = {"raw": at, "problem": str(exc), "when": None, "candidates": ()}
        else:
            lookup = {"raw": at, "problem": None, "when": when, "candidates": history.at(when)}
    shown = history.sightings[-TIMELINE_MAX:]
    drawing = layout(shown)
    return _page(
        request,
        "tag.html",
        ref=image,
        history=history,
        shown=shown,
        drawing=drawing,
        builds=builds,
        signatures=verdicts,
        lookup=lookup,
        now=now,
        skipped=len(history.sightings) - len(shown),
        running=running_now(scans.values(), image),
        latest_of={s.digest: i for i, s in enumerate(shown) if s.digest is not None},
    )


def _image_ref(image: str) -> ImageRef | None:
    """The tag an image names, for a link to its timeline (None: pinned or unreadable)."""
    try:
        ref = ImageRef.parse(image)
    except InvalidReference:
        return None
    return ref if ref.tag and ref.digest is None else None


@router.get("/clusters/{name}", response_class=HTMLResponse)
def board(request: Request, name: str) -> HTMLResponse:
    """The latest stored scan of a cluster: skewed, at-risk and stuck workloads, pods, the
    fix; and its episodes."""
    service = request.app.state.service
    entry = next((c for c in service.settings.clusters if c.name == name), None)
    if entry is None:
        return _page(request, "error.html", 404, problem=f"no cluster named {name!r} is configured")
    with _reading(request) as tx:
        scan = stored_scans(tx, [name]).get(name)
        episodes = tx.episodes.recent(cluster=name, limit=EPISODES_SHOWN)
    attention = scan.attention if scan else []
    return _page(
        request,
        "cluster.html",
        name=name,
        interval=entry.interval,
        scan=scan,
        attention=attention,
        episodes=episodes,
        now=utcnow(),
        skewed=sum(1 for f in attention if f.skewed),
        at_risk=sum(1 for f in attention if f.at_risk),
        stuck=sum(1 for f in attention if f.stuck_rollout),
        state_words=state_words,
        pod_groups=pod_groups,
        image_ref=_image_ref,
    )


def _docs(request: Request) -> HTMLResponse:
    """Swagger UI from the vendored bundle (static/swagger-ui/VERSION says which)."""
    return get_swagger_ui_html(
        openapi_url=str(request.app.openapi_url),
        title="tagwatch API",
        swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/swagger-ui/favicon-32x32.png",
        # The online validator badge would call validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )


def mount(app: FastAPI) -> None:
    """Add the pages, /docs and /static to `app` (built with docs_url=None)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/docs", _docs, include_in_schema=False, response_class=HTMLResponse)
    app.add_exception_handler(_StoreUnavailable, _unavailable)
    app.include_router(router)
