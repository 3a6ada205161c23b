"""Signatures made the way cosign makes them, with keys the tests generate.

Two layouts, as cosign's specs describe them:
- SIGNATURE_SPEC (cosign ≤ 2): a simple-signing payload blob as the layer of an OCI manifest
  tagged `sha256-<hex>.sig`, the base64 signature in the layer's
  `dev.cosignproject.cosign/signature` annotation;
- BUNDLE_SPEC (cosign 3): a Sigstore bundle (a DSSE envelope over an in-toto statement with the
  `https://sigstore.dev/cosign/sign/v1` predicate) as the layer of an OCI 1.1 artifact manifest
  whose `subject` is the image, listed in the referrers tag schema index `sha256-<hex>` (the
  test registry, distribution 2.8, has no referrers API).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tagwatch.core.digests import Digest
from tagwatch.core.signing import COSIGN_SIGN_PREDICATE, COSIGN_SIMPLE_SIGNING
from tests.support.registry import TestRegistry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"


@dataclass
class SigningKey:
    """A signing key and its public half as the PEM a `cosign.pub` holds."""

    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

    @classmethod
    def ecdsa(cls) -> SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))  # cosign generate-key-pair's kind

    @classmethod
    def rsa(cls) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ed25519(cls) -> SigningKey:
        return cls(ed25519.Ed25519PrivateKey.generate())

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, data: bytes) -> bytes:
        key = self.private
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(hashes.SHA256()))
        if isinstance(key, rsa.RSAPrivateKey):
            from cryptography.hazmat.primitives.asymmetric import padding

            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(data)


def simple_signing_payload(docker_reference: str, digest: Digest | str) -> bytes:
    """The payload `cosign sign` signs (SIGNATURE_SPEC, "Simple Signing")."""
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": str(digest)},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def sign_with_sig_tag(
    registry: TestRegistry,
    repo: str,
    digest: Digest,
    key: SigningKey,
    *,
    payload: bytes | None = None,
) -> Digest:
    """Attach a cosign ≤ 2 signature of `digest` (tag `sha256-<hex>.sig`); returns its manifest."""
    payload = payload or simple_signing_payload(f"{registry.host}/{repo}", digest)
    payload_digest = registry.push_blob(repo, payload)
    config = _canonical(
        {
            "architecture": "",
            "config": {},
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [str(payload_digest)]},
        }
    )
    config_digest = registry.push_blob(repo, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": len(config),
            "digest": str(config_digest),
        },
        "layers": [
            {
                "mediaType": COSIGN_SIMPLE_SIGNING,
                "size": len(payload),
                "digest": str(payload_digest),
                "annotations": {
                    "dev.cosignproject.cosign/signature": base64.b64encode(
                        key.sign(payload)
                    ).decode()
                },
            }
        ],
    }
    tag = f"{digest.algorithm}-{digest.encoded}.sig"
    return registry.push_manifest(repo, tag, _canonical(manifest), OCI_MANIFEST)


def _pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def keyed_bundle(
    subject: Digest | str, key: SigningKey, *, predicate_type: str = COSIGN_SIGN_PREDICATE
) -> bytes:
    """A Sigstore bundle v0.3 with a public-key hint and a DSSE envelope naming `subject`."""
    digest = Digest.parse(str(subject))
    statement = _canonical(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "image", "digest": {digest.algorithm: digest.encoded}}],
            "predicateType": predicate_type,
            "predicate": {},
        }
    )
    bundle = {
        "mediaType": BUNDLE_TYPE,
        "verificationMaterial": {"publicKey": {"hint": "tagwatch-test"}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(statement).decode(),
            "payloadType": IN_TOTO,
            "signatures": [{"sig": base64.b64encode(key.sign(_pae(IN_TOTO, statement))).decode()}],
        },
    }
    return _canonical(bundle)


def attach_bundle(
    registry: TestRegistry, repo: str, subject: Digest, subject_media_type: str, bundle: bytes
) -> Digest:
    """Attach `bundle` to `subject` as cosign 3 does on a registry without the referrers API."""
    bundle_digest = registry.push_blob(repo, bundle)
    empty = b"{}"
    empty_digest = registry.push_blob(repo, empty)
    manifest = _canonical(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": BUNDLE_TYPE,
            "config": {"mediaType": OCI_EMPTY, "size": 2, "digest": str(empty_digest)},
            "layers": [
                {"mediaType": BUNDLE_TYPE, "size": len(bundle), "digest": str(bundle_digest)}
            ],
            "subject": {"mediaType": subject_media_type, "digest": str(subject), "size": 0},
        }
    )
    manifest_digest = Digest.of(manifest)
    registry.push_manifest(repo, str(manifest_digest), manifest, OCI_MANIFEST)
    tag = f"{subject.algorithm}-{subject.encoded}"
    try:
        body, _ = registry.get_manifest(repo, tag)
        index = json.loads(body)
    except RuntimeError:  # no referrers index yet
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    index["manifests"].append(
        {
            "mediaType": OCI_MANIFEST,
            "digest": str(manifest_digest),
            "size": len(manifest),
            "artifactType": BUNDLE_TYPE,
        }
    )
    registry.push_manifest(repo, tag, _canonical(index), OCI_INDEX)
    return manifest_digest
