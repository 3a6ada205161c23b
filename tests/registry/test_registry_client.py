"""RegistryClient against the real test registry: digests equal skopeo's, indexes, labels."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import httpx
import pytest

from tagwatch.core.digests import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Digest
from tagwatch.core.moves import Source
from tagwatch.core.references import ImageRef
from tagwatch.errors import RegistryUnavailable
from tagwatch.registry import RegistryClient, RegistrySettings
from tests.support.registry import TestRegistry, skopeo_digest

NOW = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)


@pytest.fixture
async def client() -> AsyncIterator[RegistryClient]:
    async with RegistryClient(max_retries=1, retry_base=0.01) as c:
        yield c


def ref_of(registry: TestRegistry, repo: str, tag: str) -> ImageRef:
    return ImageRef.parse(f"{registry.host}/{repo}:{tag}")


@pytest.mark.parametrize("oci", [True, False])
async def test_resolved_digest_equals_skopeos_for_a_single_image(
    registry: TestRegistry, repo_name: str, client: RegistryClient, oci: bool
) -> None:
    pushed = registry.push_image(repo_name, "v1", content="single", oci=oci)
    digest = await client.resolve(ref_of(registry, repo_name, "v1"))
    assert digest == pushed
    assert str(digest) == skopeo_digest(f"{registry.host}/{repo_name}:v1")


@pytest.mark.parametrize("oci", [True, False])
async def test_resolved_digest_of_a_multi_arch_tag_is_the_index_digest(
    registry: TestRegistry, repo_name: str, client: RegistryClient, oci: bool
) -> None:
    index = registry.push_index(
        repo_name, "multi", {"linux/amd64": "a", "linux/arm64/v8": "b"}, oci=oci
    )
    children = registry.child_digests(repo_name, index)
    digest = await client.resolve(ref_of(registry, repo_name, "multi"))
    assert digest == index
    assert digest not in children.values()
    assert str(digest) == skopeo_digest(f"{registry.host}/{repo_name}:multi")


async def test_describe_index_lists_platforms_and_skips_attestations(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    index = registry.push_index(
        repo_name,
        "multi",
        {"linux/amd64": "a", "linux/arm64/v8": "b"},
        annotations={"org.opencontainers.image.revision": "abc123"},
    )
    info = await client.describe(ref_of(registry, repo_name, "multi"), index)
    assert info.media_type == OCI_INDEX
    assert dict(info.platforms) == registry.child_digests(repo_name, index)
    assert set(info.platforms) == {"linux/amd64", "linux/arm64/v8"}
    assert info.revision == "abc123"


async def test_describe_image_reads_config_labels_and_oci_annotations(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    digest = registry.push_image(
        repo_name,
        "v1",
        content="labelled",
        labels={"org.opencontainers.image.revision": "deadbeef", "maintainer": "ops"},
        annotations={"org.opencontainers.image.source": "https://example.com/app", "other": "x"},
    )
    info = await client.describe(ref_of(registry, repo_name, "v1"), digest)
    assert info.media_type == OCI_MANIFEST
    assert not info.is_index
    assert info.revision == "deadbeef"
    assert info.source == "https://example.com/app"
    assert info.labels["maintainer"] == "ops"
    assert "other" not in info.labels


async def test_describe_docker_schema2_image_reads_labels(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    digest = registry.push_image(
        repo_name, "v1", content="d", labels={"org.opencontainers.image.version": "1.2"}, oci=False
    )
    info = await client.describe(ref_of(registry, repo_name, "v1"), digest)
    assert info.media_type == DOCKER_MANIFEST
    assert info.label("version") == "1.2"


async def test_describe_is_cached_by_digest(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    digest = registry.push_image(repo_name, "v1", content="cache", labels={"a": "b"})
    ref = ref_of(registry, repo_name, "v1")
    first = await client.describe(ref, digest)
    sent = client.requests_sent
    assert await client.describe(ref, digest) == first
    assert client.requests_sent == sent


async def test_deleted_tag_resolves_to_none(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    digest = registry.push_image(repo_name, "gone", content="bye")
    ref = ref_of(registry, repo_name, "gone")
    assert await client.resolve(ref) == digest
    registry.delete(repo_name, digest)
    assert await client.resolve(ref) is None


async def test_unknown_repository_resolves_to_none(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    assert await client.resolve(ref_of(registry, repo_name + "-never", "latest")) is None


async def test_repush_of_same_tag_resolves_to_the_new_digest(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    ref = ref_of(registry, repo_name, "prod")
    old = registry.push_image(repo_name, "prod", content="v1")
    assert await client.resolve(ref) == old
    new = registry.push_image(repo_name, "prod", content="v2")
    assert await client.resolve(ref) == new != old
    registry.tag(repo_name, "prod", old)
    assert await client.resolve(ref) == old


async def test_steady_state_resolve_is_one_head_request(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    registry.push_image(repo_name, "v1", content="one")
    ref = ref_of(registry, repo_name, "v1")
    await client.resolve(ref)
    before = client.requests_sent
    await client.resolve(ref)
    assert client.requests_sent - before == 1


async def test_observe_describes_only_unknown_digests(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    digest = registry.push_image(repo_name, "v1", content="obs", labels={"k": "v"})
    ref = ref_of(registry, repo_name, "v1")
    seen = await client.observe(ref, known=lambda d: False, now=lambda: NOW)
    assert seen.digest == digest
    assert seen.seen_at == NOW
    assert seen.source is Source.POLL
    assert seen.build is not None and seen.build.labels["k"] == "v"
    again = await client.observe(ref, known=lambda d: d == digest, now=lambda: NOW)
    assert again.digest == digest and again.build is None


async def test_observe_of_a_deleted_tag_has_no_digest(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    seen = await client.observe(
        ref_of(registry, repo_name, "nope"),
        known=lambda d: False,
        now=lambda: NOW,
        source=Source.WEBHOOK,
    )
    assert seen.digest is None and seen.build is None and seen.source is Source.WEBHOOK


async def test_list_tags_returns_every_tag(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    for tag in ("a", "b", "c"):
        registry.push_image(repo_name, tag, content=tag)
    assert sorted(await client.list_tags(ref_of(registry, repo_name, "a"))) == ["a", "b", "c"]
    assert await client.list_tags(ref_of(registry, repo_name + "-none", "x")) == []


async def test_registry_down_raises_registry_unavailable_and_recovers(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    digest = registry.push_image(repo_name, "v1", content="down")
    ref = ref_of(registry, repo_name, "v1")
    registry.stop()
    with pytest.raises(RegistryUnavailable) as caught:
        await client.resolve(ref)
    assert registry.host in str(caught.value)
    assert "\n" not in str(caught.value)
    registry.start()
    assert await client.resolve(ref) == digest


async def test_resolve_by_digest_confirms_the_manifest_exists(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    digest = registry.push_image(repo_name, "v1", content="pinned")
    pinned = ImageRef.parse(f"{registry.host}/{repo_name}@{digest}")
    assert await client.resolve(pinned) == digest


async def test_a_thousand_tags_resolve_concurrently_with_one_head_each(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    digest = registry.push_image(repo_name, "base", content="many")
    for i in range(50):
        registry.tag(repo_name, f"t{i}", digest)
    refs = [ref_of(registry, repo_name, f"t{i % 50}") for i in range(1000)]
    await client.resolve(refs[0])  # warm up: learn the scheme, open connections
    before = client.requests_sent
    results = await asyncio.gather(*(client.resolve(r) for r in refs))
    assert set(results) == {digest}
    assert client.requests_sent - before == 1000  # one HEAD per tag
    assert isinstance(results[0], Digest)
    # How fast is a benchmark's question (bench/RESULTS.md), not a test's: a loaded runner
    # would fail a timed assertion for nothing.


async def test_tls_is_verified_by_default_and_insecure_skips_verification(
    make_registry: Callable[..., TestRegistry], repo_name: str
) -> None:
    tls = make_registry(tls=True)
    assert tls.url.startswith("https://") and tls.ca_path is not None
    digest = tls.push_image(repo_name, "v1", content="tls")
    ref = ref_of(tls, repo_name, "v1")
    async with RegistryClient(max_retries=1, retry_base=0.01) as strict:
        with pytest.raises(RegistryUnavailable, match="TLS certificate verification failed"):
            await strict.resolve(ref)
    settings = {tls.host: RegistrySettings(insecure=True)}
    async with RegistryClient(settings=settings, max_retries=0) as lax:
        assert await lax.resolve(ref) == digest
    trusting = httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(tls.ca_path)))
    async with RegistryClient(http=trusting, max_retries=0) as client:
        assert await client.resolve(ref) == digest
    await trusting.aclose()
