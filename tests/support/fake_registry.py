"""What tests of the client against `httpx.MockTransport` share: one host, one ref, one manifest."""

from __future__ import annotations

import json

import httpx

from tagwatch.core.digests import OCI_MANIFEST, Digest
from tagwatch.core.references import ImageRef
from tests.support.registry import TestRegistry

HOST = "registry.example.com"
REF = ImageRef.parse(f"{HOST}/team/app:prod")
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()
DIGEST = Digest.of(MANIFEST)


def ref_of(registry: TestRegistry, repo: str, tag: str) -> ImageRef:
    """`repo:tag` on the real test registry `registry`."""
    return ImageRef.parse(f"{registry.host}/{repo}:{tag}")


def redirected_to_json(body: bytes = b'{"status": "ok", "items": []}') -> httpx.MockTransport:
    """`HOST` answering HEAD without a digest and redirecting the GET to another host, whose
    200 `application/json` answer is `body` (not a manifest, unless a test makes it one)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == HOST:
            if request.method == "HEAD":
                return httpx.Response(200)
            return httpx.Response(307, headers={"Location": "https://cdn.example/blob?sig=1"})
        return httpx.Response(200, headers={"Content-Type": "application/json"}, content=body)

    return httpx.MockTransport(handler)
