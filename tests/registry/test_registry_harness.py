"""The test registry harness pushes real images that skopeo resolves to the digests it reports."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tagwatch.core.digests import Digest
from tests.support.registry import TestRegistry, skopeo_digest


def test_same_content_and_labels_push_the_same_digest(
    registry: TestRegistry, repo_name: str
) -> None:
    first = registry.push_image(repo_name, "a", content="hello", labels={"x": "1"})
    again = registry.push_image(repo_name, "b", content="hello", labels={"x": "1"})
    other = registry.push_image(repo_name, "c", content="hello, world", labels={"x": "1"})
    assert first == again
    assert other != first


def test_pushed_image_digest_is_what_skopeo_resolves(
    registry: TestRegistry, repo_name: str
) -> None:
    oci = registry.push_image(repo_name, "oci", content="one")
    docker = registry.push_image(repo_name, "docker", content="one", oci=False)
    assert oci != docker
    assert skopeo_digest(f"{registry.host}/{repo_name}:oci") == str(oci)
    assert skopeo_digest(f"{registry.host}/{repo_name}:docker") == str(docker)


@pytest.mark.parametrize("oci", [True, False])
def test_pushed_index_digest_is_what_skopeo_resolves(
    registry: TestRegistry, repo_name: str, oci: bool
) -> None:
    index = registry.push_index(
        repo_name, "multi", {"linux/amd64": "a", "linux/arm64/v8": "b"}, oci=oci
    )
    assert skopeo_digest(f"{registry.host}/{repo_name}:multi") == str(index)
    children = registry.child_digests(repo_name, index)
    assert set(children) == {"linux/amd64", "linux/arm64/v8"}


def test_tag_repoints_and_delete_removes(registry: TestRegistry, repo_name: str) -> None:
    one = registry.push_image(repo_name, "t", content="1")
    two = registry.push_image(repo_name, "t", content="2")
    assert registry.current(repo_name, "t") == two
    registry.tag(repo_name, "t", one)
    assert registry.current(repo_name, "t") == one
    registry.delete(repo_name, one)
    assert registry.current(repo_name, "t") is None


def test_stopped_registry_refuses_connections_and_comes_back(
    registry: TestRegistry, repo_name: str
) -> None:
    digest = registry.push_image(repo_name, "t", content="x")
    registry.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{registry.url}/v2/")
    registry.start()
    assert registry.current(repo_name, "t") == digest


def test_basic_registry_needs_the_password(basic_registry: TestRegistry, repo_name: str) -> None:
    digest = basic_registry.push_image(repo_name, "t", content="b")
    assert httpx.get(f"{basic_registry.url}/v2/").status_code == 401
    creds = (basic_registry.username, basic_registry.password)
    assert skopeo_digest(f"{basic_registry.host}/{repo_name}:t", creds=creds) == str(digest)


def test_token_registry_accepts_issued_tokens(token_registry: TestRegistry, repo_name: str) -> None:
    digest = token_registry.push_image(repo_name, "t", content="tok")
    assert token_registry.issuer is not None
    assert token_registry.issuer.count == 0  # the harness mints in-process
    assert skopeo_digest(f"{token_registry.host}/{repo_name}:t") == str(digest)
    assert token_registry.issuer.count >= 1
    assert isinstance(Digest.parse(str(digest)), Digest)


def test_registry_notifications_reach_a_configured_endpoint(
    make_registry: Callable[..., TestRegistry], repo_name: str
) -> None:
    events: list[dict[str, Any]] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            events.extend(json.loads(body)["events"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/events"
        reg = make_registry(
            notifications=[
                {"name": "sink", "url": url, "timeout": "2s", "threshold": 3, "backoff": "100ms"}
            ]
        )
        digest = reg.push_image(repo_name, "v1", content="notify")
        deadline = time.monotonic() + 10
        pushes: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not pushes:
            pushes = [
                e["target"]
                for e in list(events)
                if e.get("action") == "push" and e["target"].get("tag") == "v1"
            ]
            time.sleep(0.05)
        assert pushes, f"no push event for the tag within 10 s; got {events}"
        assert pushes[0]["digest"] == str(digest)
        assert pushes[0]["repository"] == repo_name
    finally:
        server.shutdown()
        server.server_close()


def test_extra_config_is_merged_into_the_registry_config(
    make_registry: Callable[..., TestRegistry], repo_name: str
) -> None:
    reg = make_registry(config={"http": {"headers": {"X-Tagwatch-Test": ["merged"]}}})
    response = reg.http.get("/v2/")
    assert response.status_code == 200
    assert response.headers["X-Tagwatch-Test"] == "merged"
    # the harness's own keys under `http` survive the merge
    assert reg.push_image(repo_name, "v1", content="merged") == reg.current(repo_name, "v1")
