"""What builds are made from, read from the real test registry: layer lists and provenance."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.provenance import base_from_statement, parse_statement
from tagwatch.core.references import ImageRef
from tagwatch.errors import ProtocolError
from tagwatch.registry import RegistryClient, build_inputs
from tests.support.registry import TestRegistry

V02 = "https://slsa.dev/provenance/v0.2"


@pytest.fixture
async def client() -> AsyncIterator[RegistryClient]:
    async with RegistryClient(max_retries=1, retry_base=0.01) as c:
        yield c


async def test_layer_list_is_the_platform_images_layers_bottom_first(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    image = registry.push_image(repo_name, "1", content=["os", "app"])
    body, _ = registry.get_manifest(repo_name, image)
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:1")
    layers = await build_inputs.layer_list(client, ref, image)
    assert len(layers) == 2 and str(layers[0]) in body.decode()
    index = registry.push_index(repo_name, "multi", {"linux/amd64": "x"}, attestation=False)
    with pytest.raises(ProtocolError, match="an index has no layers"):
        await build_inputs.layer_list(client, ref, index)


async def test_provenance_statements_are_read_per_platform_image_and_bounded(
    registry: TestRegistry,
    repo_name: str,
    client: RegistryClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    material = {"uri": "pkg:docker/alpine@3.19", "digest": {"sha256": "a" * 64}}
    index = registry.push_index(
        repo_name,
        "1",
        {"linux/amd64": "app", "linux/arm64": "app arm"},
        provenance=(V02, {"materials": [material]}),
    )
    children = registry.child_digests(repo_name, index)
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:1")
    statements = await build_inputs.provenance_statements(client, ref, index)
    assert set(statements) == set(children.values())
    [body] = statements[children["linux/amd64"]]
    found = base_from_statement(parse_statement(body))
    assert found.base is not None and found.base.ref == ImageRef.parse("alpine:3.19")

    monkeypatch.setattr(build_inputs, "MAX_STATEMENT", 16)  # a statement above it is not read
    bounded = await build_inputs.provenance_statements(client, ref, index)
    assert bounded == {child: [] for child in children.values()}


async def test_an_index_without_attestations_has_no_statements(
    registry: TestRegistry, repo_name: str, client: RegistryClient
) -> None:
    index = registry.push_index(repo_name, "1", {"linux/amd64": "x"}, attestation=False)
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:1")
    assert await build_inputs.provenance_statements(client, ref, index) == {}
    missing = Digest.of(b"never pushed")
    with pytest.raises(ProtocolError, match="not found"):
        await build_inputs.provenance_statements(client, ref, missing)
