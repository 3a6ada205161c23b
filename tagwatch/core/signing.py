"""Signing policies and what a signature must say: who may sign a watched tag's new digests.

A policy names the images it covers (glob patterns over `registry/repository:tag`) and who may
sign them: cosign public keys, or keyless identities (the certificate's subject and the OIDC
issuer that vouched for it, exact or regular expression). The cryptography happens in the
`signing` adapter; here are the rules: where cosign keeps signatures, what a signed payload
must name, and which verdict a set of checked signatures adds up to.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef

__all__ = [
    "COSIGN_SIGNATURE_ANNOTATION",
    "COSIGN_SIGN_PREDICATE",
    "COSIGN_SIMPLE_SIGNING",
    "MAX_SIGNATURES",
    "SIGSTORE_BUNDLE_TYPES",
    "KeylessIdentity",
    "SignatureFinding",
    "SignatureLayer",
    "SignatureStatus",
    "SignatureVerdict",
    "SigningPolicy",
    "bundle_layers",
    "bundle_manifests",
    "decide",
    "decide_index",
    "payload_problem",
    "policy_for",
    "referrers_tag",
    "signature_layers",
    "signature_tag",
    "statement_problem",
    "unknown",
]

#: The layer media type of a cosign signature payload (SIGNATURE_SPEC, "Storage").
COSIGN_SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
#: The layer annotation holding the base64 signature over that payload.
COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
#: The payload type a cosign image signature declares.
_COSIGN_PAYLOAD_TYPE = "cosign container image signature"
#: Sigstore bundles attached as OCI 1.1 referrers (cosign's BUNDLE_SPEC).
SIGSTORE_BUNDLE_TYPES = (
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
)
#: The in-toto predicate cosign 3 signs (in a DSSE envelope) when it signs an image.
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"


def signature_tag(digest: Digest) -> str:
    """Where cosign ≤ 2 keeps an image's signatures: the tag `sha256-<hex>.sig`."""
    return f"{digest.algorithm}-{digest.encoded}.sig"


def referrers_tag(digest: Digest) -> str:
    """The referrers tag schema of OCI distribution 1.1, for registries without the API."""
    return f"{digest.algorithm}-{digest.encoded}"


@dataclass(frozen=True, slots=True)
class KeylessIdentity:
    """A Fulcio certificate's subject (email, workflow URL…) and its OIDC issuer.

    Each side is exact, or a regular expression that must match the whole value.
    """

    identity: str | None = None
    identity_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None

    def __post_init__(self) -> None:
        if (self.identity is None) == (self.identity_regexp is None):
            raise ValueError("a keyless identity needs exactly one of identity, identity_regexp")
        if (self.issuer is None) == (self.issuer_regexp is None):
            raise ValueError("a keyless identity needs exactly one of issuer, issuer_regexp")
        for pattern in (self.identity_regexp, self.issuer_regexp):
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None

    def matches(self, identity: str, issuer: str) -> bool:
        return _side(identity, self.identity, self.identity_regexp) and _side(
            issuer, self.issuer, self.issuer_regexp
        )

    def __str__(self) -> str:
        who = self.identity or f"/{self.identity_regexp}/"
        by = self.issuer or f"/{self.issuer_regexp}/"
        return f"{who} via {by}"


def _side(value: str, exact: str | None, pattern: str | None) -> bool:
    if exact is not None:
        return value == exact
    return pattern is not None and re.fullmatch(pattern, value) is not None


@dataclass(frozen=True, slots=True)
class SigningPolicy:
    """Who may sign the images `images` matches; `public_keys` are PEM texts (cosign keys)."""

    name: str
    images: tuple[str, ...]
    public_keys: tuple[str, ...] = ()
    keyless: tuple[KeylessIdentity, ...] = ()
    #: Releases often sign the index only; a platform image is then covered by its index.
    accept_index_signature: bool = True
    #: Where keyless certificates must chain to: the Sigstore trust root sigstore-python
    #: ships (`production`, `staging`) or a trusted_root.json file.
    trust_root: str = "production"

    def __post_init__(self) -> None:
        if not self.public_keys and not self.keyless:
            raise ValueError(f"signing policy {self.name!r} names no key and no keyless identity")

    def applies_to(self, ref: ImageRef) -> bool:
        return any(fnmatch.fnmatchcase(str(ref), pattern) for pattern in self.images)


def policy_for(ref: ImageRef, policies: Sequence[SigningPolicy]) -> SigningPolicy | None:
    """The first policy whose patterns match `ref` (order in the configuration decides)."""
    return next((p for p in policies if p.applies_to(ref)), None)


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        return None


def payload_problem(payload: bytes, digest: Digest) -> str | None:
    """Why a cosign simple-signing payload does not vouch for `digest`, or None when it does.

    A detached signature proves only what its payload names: the payload must be a cosign
    image signature whose `critical.image.docker-manifest-digest` is this very digest.
    """
    doc = _json(payload)
    critical = doc.get("critical") if isinstance(doc, dict) else None
    if not isinstance(critical, dict):
        return "the signed payload is not a cosign simple-signing document"
    if critical.get("type") != _COSIGN_PAYLOAD_TYPE:
        return f"the payload's type is {critical.get('type')!r}, not a cosign image signature"
    image = critical.get("image")
    named = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if named != str(digest):
        return f"the signature is for {named}, not {digest.short}"
    return None


def statement_problem(statement: bytes, digest: Digest) -> str | None:
    """Why an in-toto statement (a DSSE payload) does not name `digest` as its subject."""
    doc = _json(statement)
    subjects = doc.get("subject") if isinstance(doc, dict) else None
    if not isinstance(subjects, list):
        return "the signed statement is not an in-toto statement"
    for subject in subjects:
        digests = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digests, dict) and digests.get(digest.algorithm) == digest.encoded:
            return None
    return f"the signed statement does not name {digest.short} as its subject"


class SignatureStatus(StrEnum):
    SIGNED = "signed"  # a signature the policy accepts
    UNSIGNED = "unsigned"  # no signature found at all
    REJECTED = "rejected"  # signatures found, none the policy accepts
    UNKNOWN = "unknown"  # could not find out (the registry failed): not a policy failure


@dataclass(frozen=True, slots=True)
class SignatureFinding:
    """One signature found for a digest and what checking it showed.

    `signer` is who made it (`key <fingerprint>` or the keyless identity) when it verified;
    otherwise `problem` says why not. `via` is where it was found (`.sig tag`, `referrer`).
    """

    via: str
    signer: str | None = None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class SignatureVerdict:
    """What the policy says of a digest: `signed_by` when accepted, else `reason`."""

    policy: str
    status: SignatureStatus
    signed_by: str | None = None
    reason: str | None = None

    @property
    def failed(self) -> bool:
        """A policy failure: unsigned or wrongly signed (not an outage)."""
        return self.status in (SignatureStatus.UNSIGNED, SignatureStatus.REJECTED)


def decide(policy: SigningPolicy, findings: Sequence[SignatureFinding]) -> SignatureVerdict:
    """The verdict of `policy` over every signature found for one digest: one accepted
    signature is enough; otherwise the reasons of the others, or that there were none."""
    for finding in findings:
        if finding.signer is not None:
            return SignatureVerdict(
                policy.name, SignatureStatus.SIGNED, f"{finding.signer} ({finding.via})"
            )
    if not findings:
        return SignatureVerdict(policy.name, SignatureStatus.UNSIGNED, None, "no signature found")
    reasons = dict.fromkeys(f.problem for f in findings if f.problem)
    reason = "; ".join(r for r in reasons if r) or "no signature the policy accepts"
    return SignatureVerdict(policy.name, SignatureStatus.REJECTED, None, reason)


def decide_index(
    policy: SigningPolicy,
    index_findings: Sequence[SignatureFinding],
    children: Mapping[str, Sequence[SignatureFinding]],
) -> SignatureVerdict:
    """The verdict for a multi-platform tag: its index's signature when the policy accepts one
    (releases often sign the index only), otherwise every platform image its own."""
    own = decide(policy, index_findings)
    if own.status is SignatureStatus.SIGNED and policy.accept_index_signature:
        return SignatureVerdict(policy.name, own.status, f"{own.signed_by}, on the index")
    if not children:
        return own
    verdicts = {platform: decide(policy, found) for platform, found in sorted(children.items())}
    failing = {p: v for p, v in verdicts.items() if v.status is not SignatureStatus.SIGNED}
    if not failing:
        signers = sorted({v.signed_by for v in verdicts.values() if v.signed_by})
        return SignatureVerdict(
            policy.name, SignatureStatus.SIGNED, f"{'; '.join(signers)}, each platform image"
        )
    platform, verdict = next(iter(failing.items()))
    reason = f"platform image {platform}: {verdict.reason}"
    if own.status is SignatureStatus.SIGNED:
        reason += " (the index is signed, and the policy wants each platform image signed)"
    return SignatureVerdict(policy.name, verdict.status, None, reason)


def unknown(policy: SigningPolicy, error: str) -> SignatureVerdict:
    """The registry could not be asked: not a policy failure, and said so."""
    return SignatureVerdict(policy.name, SignatureStatus.UNKNOWN, None, error)


@dataclass(frozen=True, slots=True)
class SignatureLayer:
    """A layer of a `.sig` manifest: the payload blob and the signature over it."""

    payload: Digest
    signature: str | None


def _descriptors(doc: Any, key: str, limit: int) -> list[dict[str, Any]]:
    entries = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return []
    return [e for e in entries[:limit] if isinstance(e, dict)]


def _digest_of(entry: dict[str, Any]) -> Digest | None:
    try:
        return Digest.parse(str(entry.get("digest")))
    except ValueError:
        return None


#: Signatures looked at per digest at most: a hostile repository could attach thousands.
MAX_SIGNATURES = 16


def signature_layers(manifest: bytes) -> list[SignatureLayer]:
    """The cosign payload layers of a `.sig` manifest (others, and malformed ones, skipped)."""
    found = []
    for layer in _descriptors(_json(manifest), "layers", MAX_SIGNATURES):
        digest = _digest_of(layer)
        if layer.get("mediaType") != COSIGN_SIMPLE_SIGNING or digest is None:
            continue
        annotations = layer.get("annotations")
        signature = (
            annotations.get(COSIGN_SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
        )
        found.append(SignatureLayer(digest, signature if isinstance(signature, str) else None))
    return found


def bundle_manifests(referrers_index: bytes) -> list[Digest]:
    """The referrers that may hold a Sigstore bundle: those typed as one, and those with no
    useful type (cosign 2.5 lists its bundles as `application/vnd.oci.empty.v1+json`)."""
    wanted = (*SIGSTORE_BUNDLE_TYPES, "application/vnd.oci.empty.v1+json", None)
    found = []
    for entry in _descriptors(_json(referrers_index), "manifests", MAX_SIGNATURES):
        digest = _digest_of(entry)
        if digest is not None and entry.get("artifactType") in wanted:
            found.append(digest)
    return found


def bundle_layers(manifest: bytes) -> list[Digest]:
    """The Sigstore bundle blobs of a referrer's manifest."""
    return [
        digest
        for layer in _descriptors(_json(manifest), "layers", MAX_SIGNATURES)
        if layer.get("mediaType") in SIGSTORE_BUNDLE_TYPES and (digest := _digest_of(layer))
    ]
