"""Fixtures for the pages: a store with a small history, and the app over it in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tagwatch.app.service import build_service
from tagwatch.app.settings import load_settings
from tagwatch.web import create_app
from tests.support.services import service_config

AppFactory = Callable[..., FastAPI]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tw.db'}"


@pytest.fixture
def make_app(tmp_path: Path, db_url: str) -> Iterator[AppFactory]:
    """An app over `db_url` with extra settings; the service is not started (no polling)."""
    services: list[Any] = []

    def make(**extra: Any) -> FastAPI:
        settings = load_settings(
            service_config(tmp_path, db=db_url, watches=[], webhooks={}, **extra)
        )
        service = build_service(settings)
        services.append(service)
        return create_app(service, lifecycle=False)

    yield make
    for service in services:
        service.store.close()


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[[FastAPI], httpx.AsyncClient]]:
    clients: list[httpx.AsyncClient] = []

    def open_client(app: FastAPI) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://tagwatch"
        )
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.aclose()
