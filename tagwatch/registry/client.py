"""RegistryClient: resolve tags to digests and describe builds over the OCI distribution API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType, TracebackType

import httpx

from tagwatch.core.digests import MANIFEST_ACCEPT, Digest
from tagwatch.core.moves import BuildInfo, Observation, Source
from tagwatch.core.references import ImageRef
from tagwatch.core.times import utcnow
from tagwatch.errors import (
    DeadlineExceeded,
    ProtocolError,
    RateLimited,
    RegistryError,
    RegistryUnavailable,
    UsageError,
)
from tagwatch.registry.answers import digest_of_body, parse_digest, unexpected, verify
from tagwatch.registry.caches import Bounded, Flight
from tagwatch.registry.calls import Caller
from tagwatch.registry.hosts import DOCKER_CREDENTIALS_LIFE, Host, Hosts, RegistrySettings
from tagwatch.registry.manifests import (
    Manifest,
    config_labels,
    inherited_labels,
    json_object,
    parse_manifest,
    platform_for_labels,
)
from tagwatch.registry.ratelimit import RateLimitStatus, parse_rate_limit
from tagwatch.registry.retry import RetryPolicy
from tagwatch.registry.tokens import Authenticator
from tagwatch.registry.transport import (
    DEFAULT_MAX_BODY,
    USER_AGENT,
    Transport,
    error_codes,
    next_link,
)

__all__ = ["USER_AGENT", "RegistryClient", "RegistrySettings"]

log = logging.getLogger(__name__)

_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_GONE_CODES = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN"})
_MAX_PAGES = 10_000
#: Digests are immutable, so cached builds never go stale; the bound only caps memory.
_CACHE_ENTRIES = 20_000
# A host whose HEAD gave no digest this many times in a row is asked with GET alone (one request
# instead of two), with a HEAD again every _HEAD_REPROBE_EVERY resolves in case it was transient.
_HEAD_MISSES_TO_SKIP = 3
_HEAD_REPROBE_EVERY = 100


def _pull_scope(ref: ImageRef) -> str:
    """The token scope that reads `ref`'s repository."""
    return f"repository:{ref.repository}:pull"


class RegistryClient:
    """An OCI distribution client for watching tags: one shared httpx.AsyncClient, many hosts.

    - `resolve(ref)`: the digest a tag points to now (one HEAD in steady state), None if gone.
    - `describe(ref, digest)`: platforms and labels of a digest (cached; digests are immutable).
    - `observe(ref, known=..., now=...)`: resolve, and describe digests not `known` yet.
    - `list_tags(ref)`: every tag of the repository, following `Link` pagination.

    Credentials come from `settings[host]`, ECR (boto3) for ECR hosts, or the docker config.
    When `http` is given it is used for every host as is (its TLS settings included).
    `max_body` caps every response body. Each host's settings bound one exchange
    (`request_deadline`) and one `observe` (`check_deadline`) in total; `stuck_hosts` names
    the hosts that missed their deadline and have not answered since.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient | None = None,
        settings: Mapping[str, RegistrySettings] | None = None,
        docker_config: Path | None = None,
        max_retries: int = 4,
        max_retry_wait: float = 30.0,
        timeout: float = 10.0,
        retry_base: float = 0.25,
        max_body: int = DEFAULT_MAX_BODY,
        docker_credentials_life: timedelta = DOCKER_CREDENTIALS_LIFE,
    ) -> None:
        self._hosts = Hosts(
            settings, docker_config=docker_config, docker_credentials_life=docker_credentials_life
        )
        self._transport = Transport(
            http,
            timeout=timeout,
            max_body=max_body,
            on_response=self._note_rate_limit,
        )
        self._retry = RetryPolicy(max_retries=max_retries, max_wait=max_retry_wait, base=retry_base)
        self._caller = Caller(Authenticator(self._transport, self._hosts, self._retry), self._retry)
        self._builds: Bounded[BuildInfo] = Bounded(_CACHE_ENTRIES)
        self._describing: dict[Digest, Flight] = {}
        self._config_labels: Bounded[dict[str, str]] = Bounded(_CACHE_ENTRIES)
        self._manifests: Bounded[tuple[bytes, str]] = Bounded(_CACHE_ENTRIES)
        self._rate_limits: dict[str, RateLimitStatus] = {}

    # -- lifecycle ----------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the HTTP clients this object created (a client passed in stays open)."""
        await self._transport.aclose()

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def rate_limits(self) -> Mapping[str, RateLimitStatus]:
        """The last rate-limit headers seen, per registry (e.g. `docker.io`)."""
        return MappingProxyType(self._rate_limits)

    @property
    def stuck_hosts(self) -> Mapping[str, datetime]:
        """Registries that missed their request deadline and have not answered since: since when."""
        return {h.registry: h.stuck_since for h in self._hosts if h.stuck_since is not None}

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far (registries and their token services)."""
        return self._transport.requests_sent

    # -- public operations --------------------------------------------------------------------
    async def resolve(self, ref: ImageRef) -> Digest | None:
        """The digest `ref`'s tag points to now, or None when the tag (or repository) is gone."""
        host = self._hosts.of(ref)
        reference = ref.tag or (str(ref.digest) if ref.digest is not None else None)
        if reference is None:
            raise UsageError(f"{ref}: a reference needs a tag or a digest to resolve")
        manifest = f"manifests/{reference}"
        host.resolves += 1
        headed = host.head_misses < _HEAD_MISSES_TO_SKIP or host.resolves % _HEAD_REPROBE_EVERY == 0
        if headed:
            response = await self._pull(host, ref, manifest, method="HEAD", accept=MANIFEST_ACCEPT)
            if response.status_code == 200:
                raw = response.headers.get("docker-content-digest")
                if raw:
                    host.head_misses = 0
                    return parse_digest(host, raw, ref)
            elif response.status_code not in (404, 405):
                raise unexpected(host, ref, response)
        # No digest header, HEAD not allowed, or a HEAD 404 (which has no body to say why).
        response = await self._pull(host, ref, manifest, accept=MANIFEST_ACCEPT)
        if response.status_code == 404:
            codes = error_codes(response)
            if _GONE_CODES.intersection(codes):
                return None
            raise ProtocolError(
                host.registry,
                f"{ref}: 404 without MANIFEST_UNKNOWN/NAME_UNKNOWN "
                f"({', '.join(codes) or 'no error code'}); is this a registry API endpoint?",
            )
        if response.status_code != 200:
            raise unexpected(host, ref, response)
        content_type = response.headers.get("content-type", "")
        parse_manifest(response.content, content_type, registry=host.registry, what=str(ref))
        digest = digest_of_body(host, ref, response)
        self._manifests[digest] = (response.content, content_type)
        if headed:  # the HEAD told us nothing the GET did not
            host.head_misses += 1
            if host.head_misses == _HEAD_MISSES_TO_SKIP:
                log.info(
                    "%s: HEAD gives no manifest digest; resolving tags with GET", host.registry
                )
        return digest

    async def describe(self, ref: ImageRef, digest: Digest) -> BuildInfo:
        """Platforms (for an index) and labels of the manifest `digest` in `ref`'s repository."""
        cached = self._builds.get(digest)
        if cached is not None:
            return cached
        flight = self._describing.get(digest)
        if flight is None:
            flight = self._describing[digest] = Flight()
        flight.users += 1
        try:
            async with flight.lock:
                cached = self._builds.get(digest)
                if cached is not None:
                    return cached
                info = await self._describe(ref, digest)
                self._builds[digest] = info
                return info
        finally:
            flight.users -= 1
            if flight.users == 0:
                self._describing.pop(digest, None)

    async def _describe(self, ref: ImageRef, digest: Digest) -> BuildInfo:
        host = self._hosts.of(ref)
        body, content_type = await self._manifest(host, ref, digest)
        manifest = parse_manifest(
            body, content_type, registry=host.registry, what=f"{ref}: manifest {digest}"
        )
        if manifest.is_index:
            shown = inherited_labels(await self._platform_labels(ref, manifest)) | dict(
                manifest.annotations
            )
            return BuildInfo(manifest.media_type, manifest.platforms, shown)
        labels: dict[str, str] = {}
        if manifest.config is not None:
            labels.update(await self._labels(host, ref, manifest.config))
        labels.update(manifest.label_annotations)
        return BuildInfo(manifest.media_type, {}, labels)

    async def _platform_labels(self, ref: ImageRef, index: Manifest) -> Mapping[str, str]:
        """The labels of the platform image an index without build annotations shows.

        Builders put labels in each platform's config, not on the index. A child that cannot
        be read for good (gone, unparseable, denied) costs only the labels; a registry that is
        failing now fails the check, so the next one records the build with its labels.
        """
        child = platform_for_labels(index)
        if child is None:
            return {}
        try:
            return (await self.describe(ref, child)).labels
        except (RateLimited, RegistryUnavailable):
            raise
        except RegistryError as exc:
            log.warning("%s: labels of platform image %s not read: %s", ref, child.short, exc)
            return {}

    async def observe(
        self,
        ref: ImageRef,
        *,
        known: Callable[[Digest], bool],
        now: Callable[[], datetime],
        source: Source = Source.POLL,
    ) -> Observation:
        """What `ref` points to now; describes the digest when `known(digest)` is False.

        Raises DeadlineExceeded when it takes longer than the host's `check_deadline`.
        """
        deadline = self._hosts.of(ref).settings.check_deadline
        try:
            async with asyncio.timeout(deadline):
                digest = await self.resolve(ref)
                seen_at = now()  # when the registry answered, before any describe() fetches
                build = None
                if digest is not None and not known(digest):
                    build = await self.describe(ref, digest)
        except TimeoutError as exc:
            raise DeadlineExceeded(
                ref.registry,
                f"{ref}: check took longer than {deadline:g} s; the registry is stuck or very slow",
                deadline=deadline,
            ) from exc
        return Observation(ref=ref, digest=digest, seen_at=seen_at, source=source, build=build)

    async def list_tags(self, ref: ImageRef) -> list[str]:
        """All tags of `ref`'s repository ([] when it does not exist), following `Link` pages."""
        host = self._hosts.of(ref)
        scope = _pull_scope(ref)
        target: str | None = f"/v2/{ref.repository}/tags/list"
        tags: list[str] = []
        seen: set[str] = set()
        visited: set[str] = set()
        pages = 0
        while target is not None and pages < _MAX_PAGES:
            pages += 1
            visited.add(target)
            response = await self._caller.call(host, "GET", target, scope)
            if response.status_code == 404 and "NAME_UNKNOWN" in error_codes(response):
                return tags
            if response.status_code != 200:
                raise unexpected(host, ref, response)
            doc = json_object(response.content, registry=host.registry, what=f"{ref}: tags list")
            before = len(tags)
            for tag in doc.get("tags") or []:
                if isinstance(tag, str) and tag not in seen:
                    seen.add(tag)
                    tags.append(tag)
            link = next_link(response)
            if link is None:
                break
            url = httpx.URL(f"{host.scheme}://{host.api_host}/").join(link)
            target = url.raw_path.decode("ascii")
            if target in visited or len(tags) == before:
                log.warning(
                    "%s: tags list of %s links to a page already read or brought no new tags; "
                    "stopping at %d tags",
                    host.registry,
                    ref.repository,
                    len(tags),
                )
                break
        return tags

    # -- artifacts attached to an image (signatures, referrers) -------------------------------
    async def artifact_manifest(self, ref: ImageRef, reference: str) -> tuple[bytes, str] | None:
        """The manifest at `reference` (a tag such as `sha256-<hex>.sig`, or a digest) in `ref`'s
        repository, with its media type; None when there is none."""
        host = self._hosts.of(ref)
        response = await self._pull(host, ref, f"manifests/{reference}", accept=MANIFEST_ACCEPT)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise unexpected(host, ref, response)
        if reference.startswith("sha256:"):
            verify(host, ref, Digest.parse(reference), response.content, "manifest")
        return response.content, response.headers.get("content-type", "").split(";")[0].strip()

    async def artifact_blob(self, ref: ImageRef, digest: Digest) -> bytes:
        """A blob of `ref`'s repository, checked against its digest."""
        return await self._blob(self._hosts.of(ref), ref, digest, "blob")

    async def referrers(self, ref: ImageRef, digest: Digest) -> bytes | None:
        """The OCI 1.1 referrers index of `digest`: from the referrers API, or where a registry
        has none (404), from the referrers tag schema (`sha256-<hex>`); None when neither."""
        host = self._hosts.of(ref)
        response = await self._pull(host, ref, f"referrers/{digest}", accept=_OCI_INDEX)
        if response.status_code == 200:
            return response.content
        if response.status_code not in (404, 405):
            raise unexpected(host, ref, response)
        fallback = await self.artifact_manifest(ref, f"{digest.algorithm}-{digest.encoded}")
        return None if fallback is None else fallback[0]

    # -- manifests and configs ----------------------------------------------------------------
    async def _manifest(self, host: Host, ref: ImageRef, digest: Digest) -> tuple[bytes, str]:
        cached = self._manifests.get(digest)
        if cached is not None:
            return cached
        response = await self._pull(host, ref, f"manifests/{digest}", accept=MANIFEST_ACCEPT)
        if response.status_code == 404:
            raise ProtocolError(
                host.registry,
                f"{ref.name}@{digest}: manifest not found (deleted since it resolved?)",
            )
        if response.status_code != 200:
            raise unexpected(host, ref, response)
        verify(host, ref, digest, response.content, "manifest")
        result = (response.content, response.headers.get("content-type", ""))
        self._manifests[digest] = result
        return result

    async def _labels(self, host: Host, ref: ImageRef, digest: Digest) -> dict[str, str]:
        cached = self._config_labels.get(digest)
        if cached is not None:
            return cached
        blob = await self._blob(host, ref, digest, "config blob")
        labels = config_labels(blob, registry=host.registry, what=f"{ref}: config blob {digest}")
        self._config_labels[digest] = labels
        return labels

    async def _pull(
        self,
        host: Host,
        ref: ImageRef,
        what: str,
        *,
        method: str = "GET",
        accept: str | None = None,
    ) -> httpx.Response:
        """`method` on `what` (`manifests/<reference>`, `blobs/<digest>`…) of `ref`'s repository."""
        path = f"/v2/{ref.repository}/{what}"
        return await self._caller.call(host, method, path, _pull_scope(ref), accept=accept)

    async def _blob(self, host: Host, ref: ImageRef, digest: Digest, what: str) -> bytes:
        """The blob `digest` of `ref`'s repository, checked against its digest."""
        response = await self._pull(host, ref, f"blobs/{digest}")
        if response.status_code != 200:
            raise unexpected(host, ref, response)
        verify(host, ref, digest, response.content, what)
        return response.content

    def _note_rate_limit(self, host: Host, response: httpx.Response) -> None:
        status = parse_rate_limit(response.headers, now=utcnow())
        if status is not None:
            self._rate_limits[host.registry] = status
