"""Signatures on a watched tag's new digest: find them in both cosign layouts, judge them.

cosign ≤ 2 keeps an image's signatures in the tag `sha256-<hex>.sig`; cosign 3 attaches Sigstore
bundles as OCI 1.1 referrers (the referrers API, or the `sha256-<hex>` tag schema where a
registry has none). A multi-platform tag is judged on its index's signature when the policy
accepts that, otherwise on each platform image's own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tagwatch.core.digests import Digest, Platform
from tagwatch.core.moves import BuildInfo
from tagwatch.core.references import ImageRef
from tagwatch.core.signing import (
    SignatureFinding,
    SignatureVerdict,
    SigningPolicy,
    bundle_layers,
    bundle_manifests,
    decide,
    decide_index,
    policy_for,
    signature_layers,
    signature_tag,
    unknown,
)
from tagwatch.errors import TagwatchError
from tagwatch.signing.checks import PolicyKeys, check_bundle, check_simple_signing

if TYPE_CHECKING:
    from tagwatch.registry import RegistryClient

__all__ = ["SignatureJudge"]

log = logging.getLogger(__name__)


class SignatureJudge:
    """Judges new digests against the configured signing policies (keys loaded once)."""

    def __init__(self, policies: Sequence[SigningPolicy]) -> None:
        self._policies = [PolicyKeys(p) for p in policies]

    def __bool__(self) -> bool:
        return bool(self._policies)

    def policy_for(self, ref: ImageRef) -> PolicyKeys | None:
        policy = policy_for(ref, [k.policy for k in self._policies])
        return next((k for k in self._policies if k.policy is policy), None)

    async def judge(
        self, ref: ImageRef, digest: Digest, build: BuildInfo | None, *, registry: RegistryClient
    ) -> SignatureVerdict | None:
        """The verdict on `digest` (new to `ref`'s tag), or None when no policy covers `ref`.

        A registry that cannot be asked gives an `unknown` verdict, never a policy failure.
        """
        keys = self.policy_for(ref)
        if keys is None:
            return None
        try:
            if build is None:  # a digest the tag had before: its build is cached or one GET
                build = await registry.describe(ref, digest)
            own = await _findings(ref, digest, keys, registry)
            if not build.is_index:
                return decide(keys.policy, own)
            children = {
                platform: digest
                for platform, digest in build.platforms.items()
                if not Platform.parse(platform).is_attestation
            }
            found = await asyncio.gather(
                *(_findings(ref, child, keys, registry) for child in children.values())
            )
            return decide_index(keys.policy, own, dict(zip(children, found, strict=True)))
        except TagwatchError as exc:
            log.warning("signatures of %s@%s could not be read: %s", ref, digest.short, exc)
            return unknown(keys.policy, f"signatures could not be read: {exc}")


async def _findings(
    ref: ImageRef, digest: Digest, keys: PolicyKeys, registry: RegistryClient
) -> list[SignatureFinding]:
    legacy, bundles = await asyncio.gather(
        _sig_tag_findings(ref, digest, keys, registry),
        _referrer_findings(ref, digest, keys, registry),
    )
    return legacy + bundles


async def _sig_tag_findings(
    ref: ImageRef, digest: Digest, keys: PolicyKeys, registry: RegistryClient
) -> list[SignatureFinding]:
    found = await registry.artifact_manifest(ref, signature_tag(digest))
    if found is None:
        return []
    findings = []
    for layer in signature_layers(found[0]):
        payload = await registry.artifact_blob(ref, layer.payload)
        findings.append(
            check_simple_signing(payload, layer.signature, digest, keys, via=".sig tag")
        )
    return findings


async def _referrer_findings(
    ref: ImageRef, digest: Digest, keys: PolicyKeys, registry: RegistryClient
) -> list[SignatureFinding]:
    index = await registry.referrers(ref, digest)
    if index is None:
        return []
    findings = []
    for manifest_digest in bundle_manifests(index):
        manifest = await registry.artifact_manifest(ref, str(manifest_digest))
        if manifest is None:
            continue
        for blob in bundle_layers(manifest[0]):
            bundle = await registry.artifact_blob(ref, blob)
            findings.append(check_bundle(bundle, digest, keys, via="referrer"))
    return findings
