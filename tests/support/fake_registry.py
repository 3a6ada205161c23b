"""What tests of the client against `httpx.MockTransport` share: one host, one ref, one manifest."""

from __future__ import annotations

import json

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
