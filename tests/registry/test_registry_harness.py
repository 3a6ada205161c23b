"""The test registry harness pushes real images that skopeo resolves to the digests it reports."""

from __future__ import annotations

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
