"""The read token: pages and API need it when set; health, metrics and webhooks never do."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI

from tagwatch.store import Store
from tagwatch.web.access import COOKIE
from tests.pages.conftest import AppFactory

TOKEN = "read-token-5f2c9a"
TOKEN_ENV = "TW_TEST_READ_TOKEN"


@pytest.fixture
def guarded(
    make_app: AppFactory,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    client_for: Callable[[FastAPI], httpx.AsyncClient],
) -> httpx.AsyncClient:
    Store.open(db_url).close()
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return client_for(make_app(http={"read_token_env": TOKEN_ENV}))


async def test_without_a_token_configured_pages_and_api_are_open(
    make_app: AppFactory, db_url: str, client_for: Callable[[FastAPI], httpx.AsyncClient]
) -> None:
    Store.open(db_url).close()
    client = client_for(make_app())
    assert (await client.get("/")).status_code == 200
    assert (await client.get("/api/v1/moves")).status_code == 200
    assert (await client.get("/docs")).status_code == 200


async def test_pages_and_api_ask_for_the_token(guarded: httpx.AsyncClient) -> None:
    api = await guarded.get("/api/v1/moves")
    assert api.status_code == 401 and api.headers["www-authenticate"].startswith("Bearer")
    assert (await guarded.get("/openapi.json")).status_code == 401
    page = await guarded.get("/")
    assert page.status_code == 401 and 'name="token"' in page.text
    assert (await guarded.get("/docs")).status_code == 401
    assert (await guarded.get("/tags/ghcr.io/org/app:v1")).status_code == 401
    wrong = await guarded.get("/api/v1/moves", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong read token"


async def test_health_metrics_webhooks_and_assets_never_ask(guarded: httpx.AsyncClient) -> None:
    assert (await guarded.get("/healthz")).status_code == 200
    assert (await guarded.get("/metrics")).status_code == 200
    assert (await guarded.get("/readyz")).status_code in (200, 503)
    assert (await guarded.get("/static/style.css")).status_code == 200
    # the webhook answers by its own rules (not configured here: 404), never 401 for the token
    assert (await guarded.post("/webhooks/distribution", json={})).status_code == 404


async def test_a_bearer_header_opens_the_api(guarded: httpx.AsyncClient) -> None:
    answer = await guarded.get("/api/v1/moves", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.json() == []


async def test_a_browser_keeps_the_token_in_a_cookie_and_the_url_loses_it(
    guarded: httpx.AsyncClient,
) -> None:
    opened = await guarded.get("/", params={"token": TOKEN, "since": "7d"})
    assert opened.status_code == 303 and opened.headers["location"] == "/?since=7d"
    cookie = opened.headers["set-cookie"]
    assert f"{COOKIE}={TOKEN}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    guarded.cookies.set(COOKIE, TOKEN)
    assert (await guarded.get("/?since=7d")).status_code == 200
    assert (await guarded.get("/api/v1/tags")).status_code == 200


async def test_the_login_form_sets_the_cookie_and_goes_back_only_to_this_server(
    guarded: httpx.AsyncClient,
) -> None:
    form = await guarded.get("/login", params={"next": "/?q=app"})
    assert form.status_code == 200 and 'value="/?q=app"' in form.text
    ok = await guarded.get("/login", params={"token": TOKEN, "next": "/?q=app"})
    assert ok.status_code == 303 and ok.headers["location"] == "/?q=app"
    away = await guarded.get("/login", params={"token": TOKEN, "next": "//evil.example/"})
    assert away.headers["location"] == "/"
    bad = await guarded.get("/login", params={"token": "nope"})
    assert bad.status_code == 401 and "not the read token" in bad.text
