"""A service with every webhook kind configured, talked to in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tagwatch.app.settings import load_settings
from tests.support.services import (
    GITHUB_SECRET,
    GITHUB_SECRET_ENV,
    HOOK_SECRET,
    HOOK_SECRET_ENV,
    Running,
    running,
    service_config,
)


@pytest.fixture
async def hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    monkeypatch.setenv(HOOK_SECRET_ENV, HOOK_SECRET)
    monkeypatch.setenv(GITHUB_SECRET_ENV, GITHUB_SECRET)
    path = service_config(tmp_path, db=f"sqlite:///{tmp_path / 'tw.db'}", watches=[])
    async with running(load_settings(path)) as handle:
        yield handle
