"""Only manifests count: the types asked for, with a body of that shape; else a protocol error."""

from __future__ import annotations

import json

import httpx
import pytest

from tagwatch.core.digests import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from tagwatch.errors import ProtocolError
from tagwatch.registry import RegistryClient
from tagwatch.registry.manifests import parse_manifest
from tests.support.fake_registry import DIGEST, HOST, MANIFEST, REF, redirected_to_json


async def test_a_json_answer_from_a_redirect_target_is_no_digest() -> None:
    http = httpx.AsyncClient(transport=redirected_to_json())
    async with http, RegistryClient(http=http) as client:
        with pytest.raises(ProtocolError, match="not an image manifest or index") as caught:
            await client.resolve(REF)
    assert caught.value.registry == HOST and str(caught.value).startswith(f"{HOST}: ")


async def test_the_same_redirect_serving_a_manifest_resolves() -> None:
    http = httpx.AsyncClient(transport=redirected_to_json(MANIFEST))
    async with http, RegistryClient(http=http) as client:
        assert await client.resolve(REF) == DIGEST


SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"


@pytest.mark.parametrize(
    ("content_type", "doc", "problem"),
    [
        (SCHEMA1, {"schemaVersion": 1, "fsLayers": []}, "not an image manifest or index"),
        ("application/json", {"schemaVersion": 2, "layers": []}, "not an image manifest"),
        ("", {"errors": [{"code": "UNKNOWN"}]}, "no Content-Type"),
        ("text/html", {"hello": "world"}, "not an image manifest"),
        (OCI_MANIFEST, {"mediaType": OCI_INDEX, "manifests": []}, "but says it is"),
        (OCI_INDEX, {"schemaVersion": 2}, "without a manifests list"),
        (DOCKER_MANIFEST, {"schemaVersion": 2, "status": "ok"}, "without config or layers"),
    ],
)
def test_bodies_that_are_not_the_manifests_asked_for_are_refused(
    content_type: str, doc: dict[str, object], problem: str
) -> None:
    with pytest.raises(ProtocolError, match=problem):
        parse_manifest(json.dumps(doc).encode(), content_type, registry=HOST, what=str(REF))


@pytest.mark.parametrize(
    ("content_type", "doc"),
    [
        (OCI_MANIFEST, {"schemaVersion": 2, "config": {}, "layers": []}),  # no mediaType: OCI 1.0
        ("application/json", {"mediaType": OCI_INDEX, "manifests": []}),  # the body says it
        (f"{DOCKER_MANIFEST}; charset=utf-8", {"mediaType": DOCKER_MANIFEST, "layers": []}),
    ],
)
def test_manifests_of_the_types_asked_for_are_accepted(
    content_type: str, doc: dict[str, object]
) -> None:
    manifest = parse_manifest(json.dumps(doc).encode(), content_type, registry=HOST, what="x")
    assert manifest.media_type in (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST)
