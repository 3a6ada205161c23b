"""Judging a registry's answers: bodies that must hash to their digest, unexpected statuses."""

from __future__ import annotations

import httpx

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import DigestMismatch, ProtocolError, RegistryError
from tagwatch.registry.hosts import Host
from tagwatch.registry.transport import error_codes

__all__ = ["digest_of_body", "matches", "parse_digest", "unexpected", "verify"]


def parse_digest(host: Host, raw: str, ref: ImageRef) -> Digest:
    try:
        return Digest.parse(raw.strip())
    except ValueError as exc:
        raise ProtocolError(
            host.registry, f"{ref}: invalid Docker-Content-Digest header: {exc}"
        ) from exc


def matches(host: Host, ref: ImageRef, digest: Digest, body: bytes) -> bool:
    try:
        return digest.matches(body)
    except ValueError as exc:
        raise ProtocolError(host.registry, f"{ref}: {exc}") from exc


def verify(host: Host, ref: ImageRef, digest: Digest, body: bytes, what: str) -> None:
    if not matches(host, ref, digest, body):
        raise DigestMismatch(
            host.registry,
            f"{ref.name}: {what} served as {digest} hashes to {Digest.of(body)}; the registry "
            "or a proxy is serving altered or truncated content",
        )


def unexpected(host: Host, ref: ImageRef, response: httpx.Response) -> RegistryError:
    codes = ", ".join(error_codes(response)) or "no error code"
    return ProtocolError(
        host.registry,
        f"{ref}: unexpected HTTP {response.status_code} ({codes}) from "
        f"{response.request.method} {response.request.url.path}",
    )


def digest_of_body(host: Host, ref: ImageRef, response: httpx.Response) -> Digest:
    """The digest of a manifest GET, checked against every digest it was claimed to have."""
    body = response.content
    computed = Digest.of(body)
    expected = [
        parse_digest(host, raw, ref)
        for raw in (response.headers.get("docker-content-digest"),)
        if raw
    ]
    if ref.tag is None and ref.digest is not None:
        expected.append(ref.digest)
    for digest in expected:
        if not matches(host, ref, digest, body):
            raise DigestMismatch(
                host.registry,
                f"{ref}: manifest body hashes to {computed}, not {digest}; the registry or a "
                "proxy is serving altered content",
            )
    return expected[0] if expected else computed
