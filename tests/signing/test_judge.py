"""A new digest's signatures, found in the test registry in both cosign layouts and judged."""

from __future__ import annotations

from tagwatch.app.signatures import SignatureJudge
from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.core.signing import SignatureStatus, SignatureVerdict, SigningPolicy
from tagwatch.registry import RegistryClient
from tests.support.cosign import (
    OCI_INDEX,
    OCI_MANIFEST,
    SigningKey,
    attach_bundle,
    keyed_bundle,
    sign_with_sig_tag,
    simple_signing_payload,
)
from tests.support.registry import TestRegistry


def _judge(key: SigningKey, *, accept_index: bool = True, images: str = "*") -> SignatureJudge:
    policy = SigningPolicy(
        "release", (images,), public_keys=(key.public_pem,), accept_index_signature=accept_index
    )
    return SignatureJudge([policy])


async def _verdict(
    judge: SignatureJudge, registry: TestRegistry, repo: str, digest: Digest, tag: str = "prod"
) -> SignatureVerdict | None:
    ref = ImageRef.parse(f"{registry.host}/{repo}:{tag}")
    async with RegistryClient() as client:
        build = await client.describe(ref, digest)
        return await judge.judge(ref, digest, build, registry=client)


async def test_an_image_signed_in_the_sig_tag_layout_is_signed(
    registry: TestRegistry, repo_name: str
) -> None:
    key = SigningKey.ecdsa()
    digest = registry.push_image(repo_name, "prod", content="v1")
    sign_with_sig_tag(registry, repo_name, digest, key)
    verdict = await _verdict(_judge(key), registry, repo_name, digest)
    assert verdict is not None
    assert verdict.status is SignatureStatus.SIGNED
    assert verdict.signed_by is not None and verdict.signed_by.endswith("(.sig tag)")


async def test_an_image_without_signatures_is_unsigned(
    registry: TestRegistry, repo_name: str
) -> None:
    digest = registry.push_image(repo_name, "prod", content="v1")
    verdict = await _verdict(_judge(SigningKey.ecdsa()), registry, repo_name, digest)
    assert verdict is not None
    assert (verdict.status, verdict.reason) == (SignatureStatus.UNSIGNED, "no signature found")
    assert verdict.failed


async def test_a_signature_by_another_key_is_rejected(
    registry: TestRegistry, repo_name: str
) -> None:
    digest = registry.push_image(repo_name, "prod", content="v1")
    sign_with_sig_tag(registry, repo_name, digest, SigningKey.ecdsa())
    verdict = await _verdict(_judge(SigningKey.ecdsa()), registry, repo_name, digest)
    assert verdict is not None
    assert verdict.status is SignatureStatus.REJECTED
    assert verdict.reason == "signed with a key the policy does not name"


async def test_a_signature_copied_from_another_image_is_rejected(
    registry: TestRegistry, repo_name: str
) -> None:
    key = SigningKey.ecdsa()
    old = registry.push_image(repo_name, None, content="v1")
    new = registry.push_image(repo_name, "prod", content="v2")
    payload = simple_signing_payload(f"{registry.host}/{repo_name}", old)
    sign_with_sig_tag(registry, repo_name, new, key, payload=payload)  # valid, but for `old`
    verdict = await _verdict(_judge(key), registry, repo_name, new)
    assert verdict is not None
    assert verdict.status is SignatureStatus.REJECTED
    assert verdict.reason == f"the signature is for {old}, not {new.short}"


async def test_a_bundle_attached_as_a_referrer_is_found_through_the_tag_schema(
    registry: TestRegistry, repo_name: str
) -> None:
    key = SigningKey.ecdsa()
    digest = registry.push_image(repo_name, "prod", content="v1")
    attach_bundle(registry, repo_name, digest, OCI_MANIFEST, keyed_bundle(digest, key))
    verdict = await _verdict(_judge(key), registry, repo_name, digest)
    assert verdict is not None
    assert verdict.status is SignatureStatus.SIGNED
    assert verdict.signed_by is not None and verdict.signed_by.endswith("(referrer)")


async def test_a_signed_index_covers_its_platform_images_when_the_policy_allows(
    registry: TestRegistry, repo_name: str
) -> None:
    key = SigningKey.ecdsa()
    index = registry.push_index(repo_name, "prod", {"linux/amd64": "a", "linux/arm64": "b"})
    attach_bundle(registry, repo_name, index, OCI_INDEX, keyed_bundle(index, key))
    allowed = await _verdict(_judge(key), registry, repo_name, index)
    assert allowed is not None
    assert allowed.status is SignatureStatus.SIGNED
    assert allowed.signed_by is not None and allowed.signed_by.endswith(", on the index")
    strict = await _verdict(_judge(key, accept_index=False), registry, repo_name, index)
    assert strict is not None
    assert strict.status is SignatureStatus.UNSIGNED
    assert strict.reason is not None
    assert strict.reason.startswith("platform image linux/amd64: no signature found")
    assert "the index is signed" in strict.reason


async def test_an_index_whose_platform_images_are_each_signed_is_signed(
    registry: TestRegistry, repo_name: str
) -> None:
    key = SigningKey.ecdsa()
    index = registry.push_index(repo_name, "prod", {"linux/amd64": "a", "linux/arm64": "b"})
    for child in registry.child_digests(repo_name, index).values():
        sign_with_sig_tag(registry, repo_name, child, key)
    verdict = await _verdict(_judge(key, accept_index=False), registry, repo_name, index)
    assert verdict is not None
    assert verdict.status is SignatureStatus.SIGNED
    assert verdict.signed_by is not None and verdict.signed_by.endswith("each platform image")


async def test_a_ref_no_policy_covers_is_not_judged(registry: TestRegistry, repo_name: str) -> None:
    digest = registry.push_image(repo_name, "prod", content="v1")
    judge = _judge(SigningKey.ecdsa(), images="ghcr.io/acme/*")
    assert await _verdict(judge, registry, repo_name, digest) is None


async def test_a_registry_that_fails_gives_an_unknown_verdict(
    registry: TestRegistry, repo_name: str
) -> None:
    digest = registry.push_image(repo_name, "prod", content="v1")
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:prod")
    judge = _judge(SigningKey.ecdsa())
    async with RegistryClient(max_retries=0) as client:
        build = await client.describe(ref, digest)
        registry.stop()
        verdict = await judge.judge(ref, digest, build, registry=client)
    assert verdict is not None
    assert verdict.status is SignatureStatus.UNKNOWN
    assert not verdict.failed
    assert verdict.reason is not None and verdict.reason.startswith("signatures could not be read")
