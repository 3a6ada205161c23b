"""A page whose store read fails is the error page, 503, saying what the store said."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tagwatch.store import Store
from tests.pages.conftest import AppFactory
from tests.support.kubeapi import KubeContext, write_kubeconfig


def _drop_every_table(db_url: str) -> None:
    """Break the store under a running app: every query now fails with `no such table`."""
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            db.execute(f'DROP TABLE "{table}"')


@pytest.mark.parametrize("path", ["/", "/tags/ghcr.io/org/app:v1", "/clusters/prod-eu"])
async def test_a_page_is_503_when_the_store_fails(
    path: str,
    make_app: AppFactory,
    db_url: str,
    tmp_path: Path,
    client_for: Callable[[FastAPI], httpx.AsyncClient],
) -> None:
    Store.open(db_url).close()
    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, [KubeContext("fake", "https://127.0.0.1:1")])
    client = client_for(make_app(clusters=[{"name": "prod-eu", "kubeconfig": str(kubeconfig)}]))
    _drop_every_table(db_url)
    page = await client.get(path)
    assert page.status_code == 503, page.text
    assert "text/html" in page.headers["content-type"]
    assert "no such table" in page.text
