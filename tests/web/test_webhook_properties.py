"""Whatever an authenticated sender posts, every webhook answers 2xx or 4xx: never a 5xx, never
a traceback in the log (hypothesis over arbitrary JSON, payload-shaped JSON and bytes)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagwatch.app.service import build_service
from tagwatch.app.settings import load_settings
from tagwatch.store import Store
from tagwatch.web import create_app
from tests.support.services import (
    GITHUB_SECRET,
    GITHUB_SECRET_ENV,
    HOOK_SECRET,
    HOOK_SECRET_ENV,
    service_config,
)

KINDS = ["distribution", "dockerhub", "github", "ecr"]
#: Keys the payload models read, so generated objects reach past the top level.
KEYS = [
    "events", "action", "target", "mediaType", "repository", "tag", "url", "request", "host",
    "type", "event_data", "resources", "resource_url", "push_data", "repo_name", "package",
    "name", "package_type", "owner", "login", "package_version", "package_url",
    "container_metadata", "account", "region", "detail", "action-type", "result",
    "repository-name", "image-tag",
]  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "push",
            "PUSH",
            "PUSH_ARTIFACT",
            "CONTAINER",
            "SUCCESS",
            "application/vnd.oci.image.manifest.v1+json",
            "127.0.0.1:99999",
            "127.0.0.1:1",
            "a/b",
            "v1",
            "127.0.0.1:1/a/b@sha256:" + "a" * 64,
            "http://reg.example/v2/a/manifests/x",
            "ghcr.io/o/n:v1",
        ]
    )
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv(HOOK_SECRET_ENV, HOOK_SECRET)
    monkeypatch.setenv(GITHUB_SECRET_ENV, GITHUB_SECRET)
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    Store.open(db).close()
    path = service_config(
        tmp_path, db=db, watches=[{"ref": "127.0.0.1:1/a/b:v1", "interval": "1h"}]
    )
    service = build_service(load_settings(path))
    with TestClient(create_app(service, lifecycle=False), raise_server_exceptions=False) as c:
        yield c
    service.store.close()


@pytest.fixture
def failures() -> Iterator[_Failures]:
    handler = _Failures()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def _post(client: TestClient, kind: str, body: bytes) -> int:
    headers: dict[str, str] = {"Authorization": f"Bearer {HOOK_SECRET}"}
    path = f"/webhooks/{kind}"
    if kind == "github":
        mac = hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": f"sha256={mac}", "X-GitHub-Event": "package"}
    elif kind == "dockerhub":
        path = f"/webhooks/dockerhub?token={HOOK_SECRET}"
    return client.post(path, content=body, headers=headers).status_code


LIMITS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@LIMITS
@given(kind=st.sampled_from(KINDS), payload=JSON)
def test_any_json_gets_a_2xx_or_4xx_and_no_traceback(
    client: TestClient, failures: _Failures, kind: str, payload: Any
) -> None:
    status = _post(client, kind, json.dumps(payload).encode())
    assert 200 <= status < 500, status
    assert failures.records == []


@LIMITS
@given(kind=st.sampled_from(KINDS), body=st.binary(max_size=200))
def test_any_bytes_get_a_2xx_or_4xx_and_no_traceback(
    client: TestClient, failures: _Failures, kind: str, body: bytes
) -> None:
    status = _post(client, kind, body)
    assert 200 <= status < 500, status
    assert failures.records == []
