"""RegistryClient: resolve tags to digests and describe builds over the OCI distribution API."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Generic, TypeVar

import httpx

from tagwatch.core.digests import INDEX_MEDIA_TYPES, MANIFEST_ACCEPT, Digest, Platform
from tagwatch.core.moves import LABEL_PREFIX, BuildInfo, Observation, Source
from tagwatch.core.references import ImageRef
from tagwatch.errors import (
    AccessDenied,
    AuthenticationFailed,
    DigestMismatch,
    ProtocolError,
    RateLimited,
    RegistryError,
    RegistryUnavailable,
    UsageError,
)
from tagwatch.registry.auth import (
    BearerToken,
    Challenge,
    credentials_allowed,
    hostname,
    is_loopback,
    parse_challenges,
    parse_token_response,
)
from tagwatch.registry.credentials import Credentials, DockerConfig, normalize_registry_key
from tagwatch.registry.providers.ecr import ecr_credentials, is_ecr_host
from tagwatch.registry.ratelimit import RateLimitStatus, parse_rate_limit
from tagwatch.registry.retry import RetryPolicy, parse_retry_after

__all__ = ["RegistryClient", "RegistrySettings"]

log = logging.getLogger(__name__)

USER_AGENT = "tagwatch/0.1 (+https://github.com/tagwatch/tagwatch)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_GONE_CODES = frozenset({"MANIFEST_UNKNOWN", "NAME_UNKNOWN"})
_IMAGE_CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)
_MAX_PAGES = 10_000
# Digests are immutable, so cached builds never go stale; the bound only caps memory.
_CACHE_ENTRIES = 20_000
_V = TypeVar("_V")
# ECR tokens whose expiry is already past when issued (moto does this) are kept this long.
_MIN_CREDENTIAL_LIFE = timedelta(minutes=5)
_REFRESH_BEFORE = timedelta(minutes=5)
# Docker config credentials are read again after this long: a long-running service picks up a new
# `docker login`, and helpers handing out short-lived tokens (gcloud: 1 h, ecr-login: 12 h) renew.
_DOCKER_CREDENTIALS_LIFE = timedelta(minutes=5)
# A host whose HEAD gave no digest this many times in a row is asked with GET alone (one request
# instead of two), with a HEAD again every _HEAD_REPROBE_EVERY resolves in case it was transient.
_HEAD_MISSES_TO_SKIP = 3
_HEAD_REPROBE_EVERY = 100
# No answer we need (manifest, config blob, tags list, error) comes near this; a server that sends
# more is misconfigured or hostile, and reading it whole could exhaust memory.
_MAX_BODY = 32 * 1024 * 1024


@dataclass(frozen=True)
class RegistrySettings:
    """How to talk to one registry host (from configuration; secrets already resolved)."""

    insecure: bool = False  # allow plain HTTP and skip TLS verification for this host
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    max_concurrency: int = 8
    allowed_auth_hosts: tuple[str, ...] = ()  # extra token-realm hosts credentials may go to


@dataclass
class _Host:
    """What the client learned about one registry host."""

    registry: str  # the name users write (docker.io), used in messages and settings
    api_host: str  # where the API lives (registry-1.docker.io)
    settings: RegistrySettings
    scheme: str
    semaphore: asyncio.Semaphore
    challenge: Challenge | None = None
    credentials: Credentials | None = None
    credentials_loaded: bool = False
    credentials_expire: datetime | None = None
    credentials_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    withheld_from: str | None = None  # a token realm we did not trust with the credentials
    head_misses: int = 0  # HEADs in a row that answered no digest (405, 404 or no header)
    resolves: int = 0


@dataclass
class _Flight:
    """Callers describing one digest at once: the first fetches, the others wait for its cache."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class _Bounded(Generic[_V]):
    """A digest-keyed cache that forgets the least recently used entries beyond `size`."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[Digest, _V] = OrderedDict()

    def get(self, key: Digest) -> _V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def __setitem__(self, key: Digest, value: _V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class _Truncated(httpx.TransportError):
    """A body shorter than its Content-Length (a connection cut mid-transfer)."""


class _CappedStream(httpx.AsyncByteStream):
    """A response stream that refuses to deliver more than `cap` bytes."""

    def __init__(self, inner: httpx.AsyncByteStream, cap: int, registry: str, path: str) -> None:
        self._inner, self._cap, self._registry, self._path = inner, cap, registry, path

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._inner:
            size += len(chunk)
            if size > self._cap:
                raise ProtocolError(
                    self._registry,
                    f"{self._path}: response body exceeds {self._cap >> 20} MiB; "
                    "is this a registry API endpoint?",
                )
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def _error_codes(response: httpx.Response) -> list[str]:
    """The `code`s of a distribution error body, [] when there is none."""
    try:
        body = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code")]


def _tls_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(
            seen
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _speaks_no_tls(exc: BaseException) -> bool:
    """Whether a connect error is a TLS handshake with a plain-HTTP server (not a refusal)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "wrong version number" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _describe_transport_error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "request timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, _Truncated):
        return "response body was cut short"
    return f"network error ({type(exc).__name__})"


def _basic(credentials: Credentials) -> str:
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _next_link(response: httpx.Response) -> str | None:
    """The target of a `Link: <...>; rel="next"` header, if any."""
    for value in response.headers.get_list("link"):
        for part in value.split(","):
            target, _, params = part.partition(";")
            target = target.strip()
            if not (target.startswith("<") and target.endswith(">")):
                continue
            rels = [p.strip() for p in params.split(";")]
            if any(r.replace(" ", "").lower() in ('rel="next"', "rel=next") for r in rels):
                return target[1:-1]
    return None


class RegistryClient:
    """An OCI distribution client for watching tags: one shared httpx.AsyncClient, many hosts.

    - `resolve(ref)`: the digest a tag points to now (one HEAD in steady state), None if gone.
    - `describe(ref, digest)`: platforms and labels of a digest (cached; digests are immutable).
    - `observe(ref, known=..., now=...)`: resolve, and describe digests not `known` yet.
    - `list_tags(ref)`: every tag of the repository, following `Link` pagination.

    Credentials come from `settings[host]`, ECR (boto3) for ECR hosts, or the docker config.
    When `http` is given it is used for every host as is (its TLS settings included).
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
    ) -> None:
        self._own_http = http is None
        self._http = http if http is not None else self._new_http(verify=True)
        self._insecure_http: httpx.AsyncClient | None = None
        self._settings = {normalize_registry_key(k): v for k, v in (settings or {}).items()}
        self._docker_config_path = docker_config
        self._docker_config: DockerConfig | None = None
        self._docker_config_expire = datetime.min.replace(tzinfo=UTC)
        self._retry = RetryPolicy(max_retries=max_retries, max_wait=max_retry_wait, base=retry_base)
        self._timeout = timeout
        self._hosts: dict[str, _Host] = {}
        self._tokens: dict[tuple[str, str, str], BearerToken] = {}
        self._token_locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self._builds: _Bounded[BuildInfo] = _Bounded(_CACHE_ENTRIES)
        self._describing: dict[Digest, _Flight] = {}
        self._config_labels: _Bounded[dict[str, str]] = _Bounded(_CACHE_ENTRIES)
        self._manifests: _Bounded[tuple[bytes, str]] = _Bounded(_CACHE_ENTRIES)
        self._rate_limits: dict[str, RateLimitStatus] = {}
        self.requests_sent = 0

    @staticmethod
    def _new_http(*, verify: bool) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            verify=verify,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    # -- lifecycle ----------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the HTTP clients this object created (a client passed in stays open)."""
        if self._own_http:
            await self._http.aclose()
        if self._insecure_http is not None:
            await self._insecure_http.aclose()

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

    # -- public operations --------------------------------------------------------------------
    async def resolve(self, ref: ImageRef) -> Digest | None:
        """The digest `ref`'s tag points to now, or None when the tag (or repository) is gone."""
        host = self._host(ref)
        reference = ref.tag or (str(ref.digest) if ref.digest is not None else None)
        if reference is None:
            raise UsageError(f"{ref}: a reference needs a tag or a digest to resolve")
        path = f"/v2/{ref.repository}/manifests/{reference}"
        scope = f"repository:{ref.repository}:pull"
        host.resolves += 1
        headed = host.head_misses < _HEAD_MISSES_TO_SKIP or host.resolves % _HEAD_REPROBE_EVERY == 0
        if headed:
            response = await self._call(host, "HEAD", path, scope, accept=MANIFEST_ACCEPT)
            if response.status_code == 200:
                raw = response.headers.get("docker-content-digest")
                if raw:
                    host.head_misses = 0
                    return self._parse_digest(host, raw, ref)
            elif response.status_code not in (404, 405):
                raise self._unexpected(host, ref, response)
        # No digest header, HEAD not allowed, or a HEAD 404 (which has no body to say why).
        response = await self._call(host, "GET", path, scope, accept=MANIFEST_ACCEPT)
        if response.status_code == 404:
            codes = _error_codes(response)
            if _GONE_CODES.intersection(codes):
                return None
            raise ProtocolError(
                host.registry,
                f"{ref}: 404 without MANIFEST_UNKNOWN/NAME_UNKNOWN "
                f"({', '.join(codes) or 'no error code'}); is this a registry API endpoint?",
            )
        if response.status_code != 200:
            raise self._unexpected(host, ref, response)
        body = response.content
        computed = Digest.of(body)
        expected = [
            self._parse_digest(host, raw, ref)
            for raw in (response.headers.get("docker-content-digest"),)
            if raw
        ]
        if ref.tag is None and ref.digest is not None:
            expected.append(ref.digest)
        for digest in expected:
            if not self._matches(host, ref, digest, body):
                raise DigestMismatch(
                    host.registry,
                    f"{ref}: manifest body hashes to {computed}, not {digest}; the registry or a "
                    "proxy is serving altered content",
                )
        digest = expected[0] if expected else computed
        self._manifests[digest] = (body, response.headers.get("content-type", ""))
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
            flight = self._describing[digest] = _Flight()
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
        host = self._host(ref)
        body, content_type = await self._manifest(host, ref, digest)
        doc = self._json(host, ref, body, f"manifest {digest}")
        media_type = str(doc.get("mediaType") or content_type.split(";")[0].strip())
        manifests = doc.get("manifests")
        if isinstance(manifests, list) or media_type in INDEX_MEDIA_TYPES:
            info = BuildInfo(
                media_type,
                self._platforms(host, ref, manifests if isinstance(manifests, list) else []),
                self._string_map(doc.get("annotations")),
            )
        else:
            labels: dict[str, str] = {}
            config = doc.get("config")
            if isinstance(config, dict) and config.get("digest"):
                config_type = config.get("mediaType")
                if config_type is None or config_type in _IMAGE_CONFIG_TYPES:
                    labels.update(await self._labels(host, ref, config["digest"]))
            annotations = self._string_map(doc.get("annotations"))
            labels.update({k: v for k, v in annotations.items() if k.startswith(LABEL_PREFIX)})
            info = BuildInfo(media_type, {}, labels)
        return info

    async def observe(
        self,
        ref: ImageRef,
        *,
        known: Callable[[Digest], bool],
        now: Callable[[], datetime],
        source: Source = Source.POLL,
    ) -> Observation:
        """What `ref` points to now; describes the digest when `known(digest)` is False."""
        digest = await self.resolve(ref)
        seen_at = now()  # when the registry answered, before any describe() fetches
        build = None
        if digest is not None and not known(digest):
            build = await self.describe(ref, digest)
        return Observation(ref=ref, digest=digest, seen_at=seen_at, source=source, build=build)

    async def list_tags(self, ref: ImageRef) -> list[str]:
        """All tags of `ref`'s repository ([] when it does not exist), following `Link` pages."""
        host = self._host(ref)
        scope = f"repository:{ref.repository}:pull"
        target: str | None = f"/v2/{ref.repository}/tags/list"
        tags: list[str] = []
        seen: set[str] = set()
        visited: set[str] = set()
        pages = 0
        while target is not None and pages < _MAX_PAGES:
            pages += 1
            visited.add(target)
            response = await self._call(host, "GET", target, scope)
            if response.status_code == 404 and "NAME_UNKNOWN" in _error_codes(response):
                return tags
            if response.status_code != 200:
                raise self._unexpected(host, ref, response)
            doc = self._json(host, ref, response.content, "tags list")
            before = len(tags)
            for tag in doc.get("tags") or []:
                if isinstance(tag, str) and tag not in seen:
                    seen.add(tag)
                    tags.append(tag)
            link = _next_link(response)
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

    # -- manifests, configs, platforms ----------------------------------------------------------
    async def _manifest(self, host: _Host, ref: ImageRef, digest: Digest) -> tuple[bytes, str]:
        cached = self._manifests.get(digest)
        if cached is not None:
            return cached
        path = f"/v2/{ref.repository}/manifests/{digest}"
        scope = f"repository:{ref.repository}:pull"
        response = await self._call(host, "GET", path, scope, accept=MANIFEST_ACCEPT)
        if response.status_code == 404:
            raise ProtocolError(
                host.registry,
                f"{ref.name}@{digest}: manifest not found (deleted since it resolved?)",
            )
        if response.status_code != 200:
            raise self._unexpected(host, ref, response)
        self._verify(host, ref, digest, response.content, "manifest")
        result = (response.content, response.headers.get("content-type", ""))
        self._manifests[digest] = result
        return result

    async def _labels(self, host: _Host, ref: ImageRef, raw_digest: Any) -> dict[str, str]:
        digest = self._digest_field(host, ref, raw_digest)
        cached = self._config_labels.get(digest)
        if cached is not None:
            return cached
        path = f"/v2/{ref.repository}/blobs/{digest}"
        scope = f"repository:{ref.repository}:pull"
        response = await self._call(host, "GET", path, scope)
        if response.status_code != 200:
            raise self._unexpected(host, ref, response)
        self._verify(host, ref, digest, response.content, "config blob")
        doc = self._json(host, ref, response.content, f"config blob {digest}")
        config = doc.get("config")
        labels = self._string_map(config.get("Labels") if isinstance(config, dict) else None)
        self._config_labels[digest] = labels
        return labels

    def _platforms(self, host: _Host, ref: ImageRef, entries: list[Any]) -> dict[str, Digest]:
        platforms: dict[str, Digest] = {}
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            plat = entry.get("platform")
            if not isinstance(plat, dict) or not plat.get("os") or not plat.get("architecture"):
                continue
            platform = Platform(
                str(plat["os"]), str(plat["architecture"]), str(plat.get("variant") or "")
            )
            if platform.is_attestation:
                continue
            platforms.setdefault(str(platform), self._digest_field(host, ref, entry.get("digest")))
        return platforms

    @staticmethod
    def _string_map(value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            return {}
        return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}

    def _digest_field(self, host: _Host, ref: ImageRef, raw: Any) -> Digest:
        try:
            return Digest.parse(str(raw))
        except ValueError as exc:
            raise ProtocolError(
                host.registry, f"{ref}: invalid digest in a manifest: {exc}"
            ) from exc

    def _parse_digest(self, host: _Host, raw: str, ref: ImageRef) -> Digest:
        try:
            return Digest.parse(raw.strip())
        except ValueError as exc:
            raise ProtocolError(
                host.registry, f"{ref}: invalid Docker-Content-Digest header: {exc}"
            ) from exc

    @staticmethod
    def _matches(host: _Host, ref: ImageRef, digest: Digest, body: bytes) -> bool:
        try:
            return digest.matches(body)
        except ValueError as exc:
            raise ProtocolError(host.registry, f"{ref}: {exc}") from exc

    def _verify(self, host: _Host, ref: ImageRef, digest: Digest, body: bytes, what: str) -> None:
        if not self._matches(host, ref, digest, body):
            raise DigestMismatch(
                host.registry,
                f"{ref.name}: {what} served as {digest} hashes to {Digest.of(body)}; the registry "
                "or a proxy is serving altered or truncated content",
            )

    def _json(self, host: _Host, ref: ImageRef, body: bytes, what: str) -> dict[str, Any]:
        try:
            doc = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProtocolError(host.registry, f"{ref}: {what} is not valid JSON") from exc
        if not isinstance(doc, dict):
            raise ProtocolError(host.registry, f"{ref}: {what} is not a JSON object")
        return doc

    def _unexpected(self, host: _Host, ref: ImageRef, response: httpx.Response) -> RegistryError:
        codes = ", ".join(_error_codes(response)) or "no error code"
        return ProtocolError(
            host.registry,
            f"{ref}: unexpected HTTP {response.status_code} ({codes}) from "
            f"{response.request.method} {response.request.url.path}",
        )

    # -- hosts and credentials ------------------------------------------------------------------
    def _host(self, ref: ImageRef) -> _Host:
        host = self._hosts.get(ref.api_host)
        if host is None:
            settings = (
                self._settings.get(normalize_registry_key(ref.registry))
                or self._settings.get(normalize_registry_key(ref.api_host))
                or RegistrySettings()
            )
            scheme = "http" if is_loopback(ref.api_host) else "https"
            host = _Host(
                registry=ref.registry,
                api_host=ref.api_host,
                settings=settings,
                scheme=scheme,
                semaphore=asyncio.Semaphore(max(1, settings.max_concurrency)),
            )
            self._hosts[ref.api_host] = host
        return host

    async def _credentials(self, host: _Host) -> Credentials | None:
        now = datetime.now(UTC)
        if host.credentials_loaded and (
            host.credentials_expire is None or now < host.credentials_expire
        ):
            return host.credentials
        async with host.credentials_lock:
            if host.credentials_loaded and (
                host.credentials_expire is None or now < host.credentials_expire
            ):
                return host.credentials
            settings = host.settings
            expire: datetime | None = None
            creds: Credentials | None
            if settings.username is not None:
                creds = Credentials(settings.username, settings.password or "")
            elif is_ecr_host(hostname(host.api_host)):
                user, password, expires_at = await asyncio.to_thread(
                    ecr_credentials, hostname(host.api_host)
                )
                creds = Credentials(user, password)
                expire = max(expires_at - _REFRESH_BEFORE, now + _MIN_CREDENTIAL_LIFE)
            else:
                if self._docker_config is None or now >= self._docker_config_expire:
                    self._docker_config = await asyncio.to_thread(
                        DockerConfig, self._docker_config_path
                    )
                    self._docker_config_expire = now + _DOCKER_CREDENTIALS_LIFE
                creds = await asyncio.to_thread(self._docker_config.lookup, host.registry)
                expire = now + _DOCKER_CREDENTIALS_LIFE
            host.credentials, host.credentials_expire = creds, expire
            host.credentials_loaded = True
            return creds

    # -- the request pipeline: retries -> auth -> redirects -----------------------------------
    async def _call(
        self, host: _Host, method: str, path: str, scope: str, *, accept: str | None = None
    ) -> httpx.Response:
        """One API call with auth, retried on network errors, 429 and 5xx."""
        attempt = 0
        while True:
            try:
                response = await self._authorized(host, method, path, scope, accept)
            except httpx.DecodingError as exc:
                raise ProtocolError(
                    host.registry,
                    f"{method} {path}: the response body could not be decoded "
                    "(bad Content-Encoding); the registry or a proxy in front of it is broken",
                ) from exc
            except httpx.TransportError as exc:
                if _tls_failure(exc):
                    raise RegistryUnavailable(
                        host.registry,
                        "TLS certificate verification failed; install the registry's CA "
                        "or mark it insecure in the configuration",
                    ) from exc
                if attempt >= self._retry.max_retries:
                    raise RegistryUnavailable(
                        host.registry,
                        f"{_describe_transport_error(exc)} after {attempt + 1} attempts; check "
                        "that the registry is up and reachable",
                    ) from exc
                await asyncio.sleep(self._retry.backoff(attempt))
                attempt += 1
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(
                    response.headers.get("retry-after"), now=time.time()
                )
                if status == 429 and (
                    attempt >= self._retry.max_retries
                    or (retry_after is not None and retry_after > self._retry.max_wait)
                ):
                    wait = f"; retry after {retry_after:.0f} s" if retry_after is not None else ""
                    raise RateLimited(
                        host.registry,
                        f"rate limited (429) after {attempt + 1} attempts{wait}; check less often "
                        "or authenticate for a higher limit",
                        retry_after,
                    )
                if attempt >= self._retry.max_retries:
                    raise RegistryUnavailable(
                        host.registry,
                        f"HTTP {status} after {attempt + 1} attempts; the registry is failing, "
                        "try again later",
                    )
                await asyncio.sleep(self._retry.wait_for(attempt, retry_after))
                attempt += 1
                continue
            if status == 403:
                raise AccessDenied(
                    host.registry,
                    f"access denied (403) to {path.split('/manifests/')[0].split('/blobs/')[0]}"
                    "; check that these credentials may pull from this repository",
                )
            return response

    async def _authorized(
        self, host: _Host, method: str, path: str, scope: str, accept: str | None
    ) -> httpx.Response:
        headers: dict[str, str] = {"Accept": accept} if accept else {}
        authorization, fresh = await self._authorization(host, scope)
        if authorization is not None:
            headers["Authorization"] = authorization
        response = await self._send(host, method, path, headers)
        if response.status_code != 401:
            return response
        challenges = parse_challenges(", ".join(response.headers.get_list("www-authenticate")))
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.realm), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if bearer is not None:
            host.challenge = bearer
            if fresh:
                raise await self._refused(host, bearer)
            token = await self._bearer(host, bearer, scope, stale=authorization)
            headers["Authorization"] = f"Bearer {token}"
        elif basic is not None:
            host.challenge = basic
            creds = await self._credentials(host)
            if creds is None or authorization is not None:
                raise await self._refused(host, basic)
            headers["Authorization"] = _basic(creds)
        else:
            raise AuthenticationFailed(
                host.registry, "answered 401 without a Bearer or Basic challenge; cannot log in"
            )
        response = await self._send(host, method, path, headers)
        if response.status_code == 401:
            raise await self._refused(host, host.challenge)
        return response

    @staticmethod
    def _withheld_hint(realm: str) -> str:
        realm_host = httpx.URL(realm).host
        return (
            f"access refused; credentials were not sent to token realm {realm} on another host: "
            f"add {realm_host!r} to allowed_auth_hosts if you trust it"
        )

    async def _refused(self, host: _Host, challenge: Challenge) -> AuthenticationFailed:
        creds = await self._credentials(host)
        if creds is not None and challenge.scheme == "bearer" and host.withheld_from is not None:
            realm = challenge.params.get("realm", "")
            if host.withheld_from == str(httpx.URL(realm).copy_with(query=None)):
                return AuthenticationFailed(host.registry, self._withheld_hint(host.withheld_from))
        if creds is None:
            return AuthenticationFailed(
                host.registry,
                "anonymous access refused (401); add credentials for this registry "
                "(docker login, or username/password in the configuration)",
            )
        return AuthenticationFailed(
            host.registry,
            "the registry refused our credentials (401); check the username and password "
            "(or token) configured for it",
        )

    async def _authorization(self, host: _Host, scope: str) -> tuple[str | None, bool]:
        """The Authorization header to send up front, and whether a token was fetched for it."""
        challenge = host.challenge
        if challenge is None:
            return None, False
        if challenge.scheme == "bearer":
            key = self._token_key(challenge, scope)
            token = self._tokens.get(key)
            if token is not None and token.valid():
                return f"Bearer {token.value}", False
            return f"Bearer {await self._bearer(host, challenge, scope, stale=None)}", True
        creds = await self._credentials(host)
        return (_basic(creds) if creds is not None else None), False

    @staticmethod
    def _token_key(challenge: Challenge, scope: str) -> tuple[str, str, str]:
        return (challenge.params.get("realm", ""), challenge.params.get("service", ""), scope)

    async def _bearer(
        self, host: _Host, challenge: Challenge, scope: str, *, stale: str | None
    ) -> str:
        """A valid token for `scope` (single-flight per realm/service/scope); not `stale`."""
        key = self._token_key(challenge, scope)
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            token = self._tokens.get(key)
            if token is not None and token.valid() and f"Bearer {token.value}" != stale:
                return token.value
            token = await self._fetch_token(host, challenge, scope)
            self._tokens[key] = token
            return token.value

    async def _fetch_token(self, host: _Host, challenge: Challenge, scope: str) -> BearerToken:
        realm = challenge.params["realm"]
        try:
            url = httpx.URL(realm)
        except httpx.InvalidURL as exc:
            raise AuthenticationFailed(host.registry, "token realm is not a valid URL") from exc
        realm_name = str(url.copy_with(query=None))
        if url.scheme not in ("http", "https") or not url.host:
            raise AuthenticationFailed(host.registry, f"token realm {realm_name} is not HTTP(S)")
        if url.scheme == "http" and not (is_loopback(url.host) or host.settings.insecure):
            raise AuthenticationFailed(
                host.registry,
                f"token realm {realm_name} uses plain HTTP; refusing to fetch tokens over it",
            )
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.params.get("service"):
            params.append(("service", challenge.params["service"]))
        params.append(("scope", scope))
        scope_from_challenge = challenge.params.get("scope")
        if scope_from_challenge and scope_from_challenge != scope:
            params.extend(("scope", s) for s in scope_from_challenge.split(" ") if s)
        headers: dict[str, str] = {}
        creds = await self._credentials(host)
        if creds is not None:
            allowed = credentials_allowed(host.api_host, realm, host.settings.allowed_auth_hosts)
            allowed = allowed or credentials_allowed(
                host.registry, realm, host.settings.allowed_auth_hosts
            )
            if allowed:
                headers["Authorization"] = _basic(creds)
            elif host.withheld_from != realm_name:
                host.withheld_from = realm_name
                log.warning(
                    "%s: not sending credentials to token realm %s on another host; "
                    "list that host in allowed_auth_hosts to trust it",
                    host.registry,
                    realm_name,
                )
        request_url = url.copy_merge_params(params)
        client = self._client_for(host, url.scheme)
        attempt = 0
        while True:
            try:
                self.requests_sent += 1
                response = await client.get(request_url, headers=headers, timeout=self._timeout)
            except httpx.DecodingError as exc:
                raise AuthenticationFailed(
                    host.registry,
                    f"token service {realm_name} sent a body that could not be decoded "
                    "(bad Content-Encoding); check the registry's auth service",
                ) from exc
            except httpx.TransportError as exc:
                if attempt >= self._retry.max_retries:
                    raise AuthenticationFailed(
                        host.registry,
                        f"token service {realm_name} unreachable "
                        f"({_describe_transport_error(exc)}); check the registry's auth service",
                    ) from exc
                await asyncio.sleep(self._retry.backoff(attempt))
                attempt += 1
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if attempt >= self._retry.max_retries:
                    raise AuthenticationFailed(
                        host.registry,
                        f"token service {realm_name} answered HTTP {response.status_code} after "
                        f"{attempt + 1} attempts; try again later",
                    )
                retry_after = parse_retry_after(
                    response.headers.get("retry-after"), now=time.time()
                )
                await asyncio.sleep(self._retry.wait_for(attempt, retry_after))
                attempt += 1
                continue
            break
        if response.status_code in (401, 403):
            if creds is not None and "Authorization" not in headers:
                raise AuthenticationFailed(host.registry, self._withheld_hint(realm_name))
            who = "our credentials" if "Authorization" in headers else "anonymous access"
            raise AuthenticationFailed(
                host.registry,
                f"token service {realm_name} refused {who} (HTTP {response.status_code}); "
                "check the credentials configured for this registry",
            )
        if response.status_code != 200:
            raise AuthenticationFailed(
                host.registry,
                f"token service {realm_name} answered HTTP {response.status_code}; "
                "check the registry's auth service",
            )
        try:
            body = json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise AuthenticationFailed(
                host.registry, f"token service {realm_name} did not answer JSON"
            ) from exc
        token = parse_token_response(body)
        if token is None:
            raise AuthenticationFailed(
                host.registry, f"token service {realm_name} answered without a token"
            )
        return token

    def _client_for(self, host: _Host, scheme: str) -> httpx.AsyncClient:
        if scheme == "https" and host.settings.insecure and self._own_http:
            if self._insecure_http is None:
                self._insecure_http = self._new_http(verify=False)
            return self._insecure_http
        return self._http

    async def _send(
        self, host: _Host, method: str, path: str, headers: dict[str, str]
    ) -> httpx.Response:
        """One exchange with the registry, following redirects (no Authorization across hosts)."""
        url = httpx.URL(f"{host.scheme}://{host.api_host}{path}")
        origin = (url.scheme, url.host, url.port)
        current = dict(headers)
        for _ in range(_MAX_REDIRECTS + 1):
            client = self._client_for(host, url.scheme)
            request = client.build_request(method, url, headers=current, timeout=self._timeout)
            try:
                async with host.semaphore:
                    self.requests_sent += 1
                    response = await client.send(request, stream=True)
                    try:
                        declared = response.headers.get("content-length", "")
                        if declared.isdigit() and int(declared) > _MAX_BODY:
                            raise ProtocolError(
                                host.registry,
                                f"{url.path}: response body of {declared} bytes exceeds "
                                f"{_MAX_BODY >> 20} MiB; is this a registry API endpoint?",
                            )
                        if isinstance(response.stream, httpx.AsyncByteStream):
                            response.stream = _CappedStream(
                                response.stream, _MAX_BODY, host.registry, url.path
                            )
                        await response.aread()
                    finally:
                        await response.aclose()
            except httpx.ConnectError as exc:
                if (
                    url.scheme == "https"
                    and host.settings.insecure
                    and (url.scheme, url.host, url.port) == origin
                    and _speaks_no_tls(exc)  # a refused or down port is no reason to drop TLS
                ):
                    log.info("%s: HTTPS failed, falling back to plain HTTP", host.registry)
                    host.scheme = "http"
                    url = url.copy_with(scheme="http")
                    origin = (url.scheme, url.host, url.port)
                    continue
                raise exc
            self._note_rate_limit(host, response)
            if (
                url.scheme == "http"
                and host.scheme == "http"
                and response.status_code == 400
                and (
                    b"HTTPS server" in response.content  # Go
                    or b"HTTPS port" in response.content  # nginx
                    or (response.http_version == "HTTP/1.0" and not response.headers)
                )
            ):
                # The answer to plain HTTP on a TLS port: this (loopback or insecure) host is HTTPS.
                host.scheme = "https"
                url = url.copy_with(scheme="https")
                origin = (url.scheme, url.host, url.port)
                continue
            if method != "HEAD":
                declared = response.headers.get("content-length")
                if (
                    declared is not None
                    and declared.isdigit()
                    and "content-encoding" not in response.headers
                    and len(response.content) != int(declared)
                ):
                    raise _Truncated(
                        f"body has {len(response.content)} of {declared} bytes",
                        request=request,
                    )
            location = response.headers.get("location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            url = url.join(location)
            if url.scheme not in ("http", "https") or (
                url.scheme == "http" and not (is_loopback(url.host) or host.settings.insecure)
            ):
                raise ProtocolError(
                    host.registry, f"redirected to a non-HTTPS location ({url.scheme}://{url.host})"
                )
            if (url.scheme, url.host, url.port) != origin:
                current.pop("Authorization", None)
            if response.status_code == 303 and method != "HEAD":
                method = "GET"
        raise ProtocolError(host.registry, f"more than {_MAX_REDIRECTS} redirects for {path}")

    def _note_rate_limit(self, host: _Host, response: httpx.Response) -> None:
        status = parse_rate_limit(response.headers, now=datetime.now(UTC))
        if status is not None:
            self._rate_limits[host.registry] = status
