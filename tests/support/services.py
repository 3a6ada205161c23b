"""The service under test: config files for the test registry, fake Slack and webhooks, and
`running(settings)`, the service started in-process (its app over httpx, uvicorn when asked)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml

from tagwatch.app.service import Service, build_service
from tagwatch.app.settings import Settings, load_settings
from tagwatch.web import create_app
from tests.support.slack import FakeSlack

SLACK_ENV = "TW_TEST_SLACK_TOKEN"
HOOK_SECRET_ENV = "TW_TEST_HOOK_SECRET"
HOOK_SECRET = "hook-secret-7d1e"
GITHUB_SECRET_ENV = "TW_TEST_GITHUB_SECRET"
GITHUB_SECRET = "github-secret-99aa"

#: Scheduler settings that keep tests fast.
FAST = {
    "tick": "100ms",
    "delivery_interval": "500ms",
    "expand_interval": "2s",
    "lease_ttl": "2s",
    "delivery_lease": "3s",
    "jitter": 0.0,
    "default_interval": "1s",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def tagwatch_cli(*args: str) -> str:
    """The CLI in another process, as CI runs it next to the service; its output (exit 0)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tagwatch", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def service_config(
    tmp_path: Path,
    *,
    db: str,
    watches: list[dict[str, Any]],
    slack: FakeSlack | None = None,
    listen: str | None = None,
    **extra: Any,
) -> Path:
    """Write a config for the test registry, fake Slack and webhooks; returns its path."""
    data: dict[str, Any] = {
        "database_url": db,
        "listen": listen or f"127.0.0.1:{free_port()}",
        "watches": watches,
        "scheduler": dict(FAST),
        "webhooks": {
            kind: {"secret_env": HOOK_SECRET_ENV} for kind in ("distribution", "dockerhub", "ecr")
        }
        | {"github": {"secret_env": GITHUB_SECRET_ENV}},
        "log": {"format": "json", "level": "INFO"},
    }
    if slack is not None:
        data["slack"] = {
            "bot_token_env": SLACK_ENV,
            "base_url": slack.api_url,
            "default_channel": "C-ALERTS",
        }
    for key, value in extra.items():
        if isinstance(value, dict) and value and isinstance(data.get(key), dict):
            data[key] = data[key] | value
        else:
            data[key] = value
    path = tmp_path / f"tagwatch-{len(list(tmp_path.glob('tagwatch-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class Running:
    service: Service
    client: httpx.AsyncClient
    settings: Settings
    url: str


@asynccontextmanager
async def running(
    settings: Settings, *, http: bool = False, holder: str | None = None
) -> AsyncIterator[Running]:
    """The service started in this event loop; `client` talks to its app in-process, and with
    `http` uvicorn also listens on `settings.listen` (for the registry's notifications)."""
    service = build_service(settings, holder=holder)
    app = create_app(service, lifecycle=False)
    await service.start()
    server: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None
    if http:
        config = uvicorn.Config(
            app,
            host=settings.listen_host,
            port=settings.listen_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        await eventually(lambda: server is not None and server.started, within=10)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tagwatch")
    try:
        yield Running(service, client, settings, f"http://{settings.listen}")
    finally:
        await client.aclose()
        if server is not None and task is not None:
            server.should_exit = True
            await task
        await service.stop()
        await service.registry.aclose()
        service.store.close()


async def eventually(
    condition: Callable[[], Any], *, within: float = 10.0, every: float = 0.05
) -> Any:
    """Wait until `condition()` is truthy (and return it), or fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(every)


def settings_from(path: Path) -> Settings:
    return load_settings(path)
