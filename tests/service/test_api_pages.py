"""The API for programs: bounded pages with cursors, a tag's builds, filters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tagwatch.app.service import build_service
from tagwatch.app.settings import load_settings
from tagwatch.core.moves import BuildInfo
from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tagwatch.web import create_app
from tests.store.helpers import at, digest, observe
from tests.support.services import service_config

INDEX = "application/vnd.oci.image.index.v1+json"
PROD = ImageRef.parse("ghcr.io/org/app:prod")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    store = Store.open(db)
    build = BuildInfo(
        INDEX,
        platforms={"linux/amd64": digest("amd"), "linux/arm64": digest("arm")},
        labels={"org.opencontainers.image.revision": "abc123", "team": "pay"},
    )
    observe(store, PROD, digest("one"), at(0), build=build)
    observe(store, PROD, digest("two"), at(5))
    for n in range(7):
        observe(store, ImageRef.parse(f"ghcr.io/org/svc{n}:v1"), digest(f"s{n}"), at(10 + n))
    store.close()
    settings = load_settings(service_config(tmp_path, db=db, watches=[], webhooks={}))
    service = build_service(settings)
    app = create_app(service, lifecycle=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tagwatch"
    ) as http:
        yield http
    service.store.close()


async def _follow(client: httpx.AsyncClient, url: str) -> tuple[list[dict[str, object]], int]:
    items: list[dict[str, object]] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        answer = await client.get(next_url)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        items += page["sightings"] if isinstance(page, dict) else page
        pages += 1
        link = answer.links.get("next")
        next_url = link["url"] if link else None
        assert (link is None) == ("x-next-cursor" not in answer.headers)
    return items, pages


async def test_moves_come_in_pages_whose_links_lead_through_all_of_them(
    client: httpx.AsyncClient,
) -> None:
    whole = (await client.get("/api/v1/moves", params={"limit": 1000})).json()
    assert len(whole) == 9 and "link" not in (await client.get("/api/v1/moves")).headers
    paged, pages = await _follow(client, "/api/v1/moves?limit=2")
    assert paged == whole and pages == 5
    newest, _ = await _follow(client, "/api/v1/moves?limit=4&order=newest")
    assert newest == whole[::-1]


async def test_filters_reach_the_api(client: httpx.AsyncClient) -> None:
    moved = (await client.get("/api/v1/moves", params={"change": "moved"})).json()
    assert [(m["ref"], m["from_digest"]) for m in moved] == [(str(PROD), str(digest("one")))]
    found = (await client.get("/api/v1/moves", params={"q": "svc3"})).json()
    assert [m["ref"] for m in found] == ["ghcr.io/org/svc3:v1"]


async def test_tags_page_with_cursors(client: httpx.AsyncClient) -> None:
    tags, pages = await _follow(client, "/api/v1/tags?limit=3")
    assert pages == 3 and len(tags) == 8
    assert [t["ref"] for t in tags] == sorted(t["ref"] for t in tags)  # type: ignore[type-var]


async def test_a_cursor_the_api_never_gave_is_a_400_and_limits_are_bounded(
    client: httpx.AsyncClient,
) -> None:
    for url in ("/api/v1/moves", "/api/v1/tags", f"/api/v1/tags/{PROD}/history"):
        bad = await client.get(url, params={"cursor": "not-a-cursor"})
        assert bad.status_code == 400 and bad.json()["detail"].startswith("cursor:")
    tag_cursor = (await client.get("/api/v1/tags", params={"limit": 1})).headers["x-next-cursor"]
    wrong_list = await client.get("/api/v1/moves", params={"cursor": tag_cursor})
    assert wrong_list.status_code == 400
    assert (await client.get("/api/v1/moves", params={"limit": 1001})).status_code == 422


async def test_a_tags_builds_carry_revision_labels_and_platforms(
    client: httpx.AsyncClient,
) -> None:
    answer = (await client.get(f"/api/v1/tags/{PROD}/builds")).json()
    assert answer["ref"] == str(PROD)
    (build,) = answer["builds"]
    assert build["digest"] == str(digest("one")) and build["revision"] == "abc123"
    assert build["labels"]["team"] == "pay"
    assert build["platforms"] == {
        "linux/amd64": str(digest("amd")),
        "linux/arm64": str(digest("arm")),
    }
    assert answer["unknown"] == [str(digest("two"))]  # recorded without its build
    assert (await client.get("/api/v1/tags/ghcr.io/org/none:x/builds")).status_code == 404


async def test_history_pages_too(client: httpx.AsyncClient) -> None:
    sightings, pages = await _follow(client, f"/api/v1/tags/{PROD}/history?limit=1")
    assert pages == 2 and [s["digest"] for s in sightings] == [
        str(digest("one")),
        str(digest("two")),
    ]
