"""Sending registry requests: redirects without credentials, TLS fallback, body cap, deadlines.

Also the helpers every HTTP caller of a registry or vendor API shares: `Link` paging,
distribution error codes, and a one-phrase description of a network failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import AsyncIterator, Callable

import httpx

from tagwatch.core.times import utcnow
from tagwatch.errors import DeadlineExceeded, ProtocolError
from tagwatch.registry.auth import is_loopback
from tagwatch.registry.hosts import Host

__all__ = [
    "DEFAULT_MAX_BODY",
    "USER_AGENT",
    "Transport",
    "describe_transport_error",
    "error_codes",
    "next_link",
    "tls_failure",
]

log = logging.getLogger(__name__)

USER_AGENT = "tagwatch/0.1 (+https://github.com/tagwatch/tagwatch)"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
#: No answer we need (manifest, config blob, tags list, error) comes near this; a server that
#: sends more is misconfigured or hostile, and reading it whole could exhaust memory.
DEFAULT_MAX_BODY = 32 * 1024 * 1024


class Truncated(httpx.TransportError):
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
                raise ProtocolError(self._registry, _too_big(self._path, self._cap))
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def _too_big(path: str, cap: int, declared: str | None = None) -> str:
    size = f" of {declared} bytes" if declared else ""
    return f"{path}: response body{size} exceeds {_mib(cap)}; is this a registry API endpoint?"


def _mib(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size} bytes"


def error_codes(response: httpx.Response) -> list[str]:
    """The `code`s of a distribution error body, [] when there is none."""
    try:
        body = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code")]


def next_link(response: httpx.Response) -> str | None:
    """The target of a `Link: <...>; rel="next"` header, if any (registries, GitHub, Hub)."""
    for value in response.headers.get_list("link"):
        for part in value.split(","):
            target, _, params = part.partition(";")
            target = target.strip()
            if not (target.startswith("<") and target.endswith(">")):
                continue
            rels = [p.strip().replace(" ", "").lower() for p in params.split(";")]
            if 'rel="next"' in rels or "rel=next" in rels:
                return target[1:-1]
    return None


def _caused_by(exc: BaseException, test: type[BaseException], text: str) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, test) or text in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def tls_failure(exc: BaseException) -> bool:
    """Whether a transport error is a certificate the system does not trust."""
    return _caused_by(exc, ssl.SSLCertVerificationError, "certificate_verify_failed")


def _speaks_no_tls(exc: BaseException) -> bool:
    """Whether a connect error is a TLS handshake with a plain-HTTP server (not a refusal)."""
    return _caused_by(exc, ssl.SSLError, "wrong version number")


def describe_transport_error(exc: httpx.TransportError) -> str:
    """A short phrase for a network failure, fit for a one-line message."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.TimeoutException):
        return "request timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, Truncated):
        return "response body was cut short"
    return f"network error ({type(exc).__name__})"


def new_http(*, verify: bool) -> httpx.AsyncClient:
    """The client tagwatch makes for itself: no automatic redirects (we follow them ourselves)."""
    return httpx.AsyncClient(
        verify=verify,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
    )


class Transport:
    """Exchanges with registry hosts over one shared httpx.AsyncClient (or one passed in).

    - Redirects are followed by hand: `Authorization` never goes to another origin, and plain
      HTTP is allowed only on loopback or hosts marked insecure.
    - An insecure host that speaks no TLS is retried over plain HTTP (and back, behind nginx).
    - Bodies above `max_body` are refused, before reading when declared; a body shorter than
      its Content-Length is a transport error (retried).
    - Each exchange has the host's `request_deadline` in total, however slowly the server
      drips (httpx's timeouts are per read). A host that misses it is stuck: until it answers
      again, one request at a time probes it and the others fail at once (DeadlineExceeded).
    """

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        timeout: float = 10.0,
        max_body: int = DEFAULT_MAX_BODY,
        on_response: Callable[[Host, httpx.Response], None] | None = None,
    ) -> None:
        self._own_http = http is None
        self._http = http if http is not None else new_http(verify=True)
        self._insecure_http: httpx.AsyncClient | None = None
        self.timeout = timeout
        self.max_body = max_body
        self._on_response = on_response
        self.requests_sent = 0

    async def aclose(self) -> None:
        """Close the HTTP clients this object created (a client passed in stays open)."""
        if self._own_http:
            await self._http.aclose()
        if self._insecure_http is not None:
            await self._insecure_http.aclose()

    def client_for(self, host: Host, scheme: str) -> httpx.AsyncClient:
        if scheme == "https" and host.settings.insecure and self._own_http:
            if self._insecure_http is None:
                self._insecure_http = new_http(verify=False)
            return self._insecure_http
        return self._http

    async def get(self, host: Host, url: httpx.URL, headers: dict[str, str]) -> httpx.Response:
        """One GET of an absolute URL (a token realm), body capped, within the deadline."""
        client = self.client_for(host, url.scheme)
        request = client.build_request("GET", url, headers=headers, timeout=self.timeout)
        return await self._exchange(client, request, host, url)

    async def send(
        self, host: Host, method: str, path: str, headers: dict[str, str]
    ) -> httpx.Response:
        """One exchange with the registry, following redirects (no Authorization across hosts)."""
        url = httpx.URL(f"{host.scheme}://{host.api_host}{path}")
        origin = (url.scheme, url.host, url.port)
        current = dict(headers)
        for _ in range(_MAX_REDIRECTS + 1):
            client = self.client_for(host, url.scheme)
            request = client.build_request(method, url, headers=current, timeout=self.timeout)
            try:
                async with host.semaphore:
                    response = await self._exchange(client, request, host, url)
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
            if self._on_response is not None:
                self._on_response(host, response)
            if _is_tls_port(url, host, response):
                # The answer to plain HTTP on a TLS port: this (loopback or insecure) host is HTTPS.
                host.scheme = "https"
                url = url.copy_with(scheme="https")
                origin = (url.scheme, url.host, url.port)
                continue
            if method != "HEAD":
                _check_complete(response, request)
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

    async def _exchange(
        self, client: httpx.AsyncClient, request: httpx.Request, host: Host, url: httpx.URL
    ) -> httpx.Response:
        """Send and read the whole (capped) body within the host's deadline."""
        deadline = host.settings.request_deadline
        probe = host.stuck_since is not None
        if probe and host.probing:
            raise _still_stuck(host)
        host.probing = probe
        self.requests_sent += 1
        try:
            async with asyncio.timeout(deadline):
                response = await client.send(request, stream=True)
                try:
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self.max_body:
                        raise ProtocolError(
                            host.registry, _too_big(url.path, self.max_body, declared)
                        )
                    if isinstance(response.stream, httpx.AsyncByteStream):
                        response.stream = _CappedStream(
                            response.stream, self.max_body, host.registry, url.path
                        )
                    await response.aread()
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            _mark_stuck(host, f"no complete answer within {deadline:g} s")
            # Not a transport error on purpose: retrying a host that just let a whole deadline
            # pass only multiplies the wait (the next check probes it again).
            raise DeadlineExceeded(
                host.registry,
                f"{url.path}: no complete answer within {deadline:g} s; the registry is stuck "
                "or very slow",
                deadline=deadline,
            ) from exc
        except httpx.TimeoutException:
            # httpx's own timeouts (connect, or a read that got nothing for `timeout` seconds)
            # come first on a silent host: stuck too, though this request may still be retried.
            _mark_stuck(host, f"no answer within {self.timeout:g} s")
            raise
        finally:
            if probe:
                host.probing = False
        if host.stuck_since is not None:
            log.info("%s: answers again", host.registry)
            host.stuck_since = None
        return response


def _mark_stuck(host: Host, what: str) -> None:
    if host.stuck_since is None:
        host.stuck_since = utcnow()
        log.warning("%s: %s; its checks fail at once until it answers again", host.registry, what)


def _still_stuck(host: Host) -> DeadlineExceeded:
    since = host.stuck_since.strftime("%H:%M:%S UTC") if host.stuck_since else "?"
    deadline = host.settings.request_deadline
    return DeadlineExceeded(
        host.registry,
        f"has not answered within {deadline:g} s since {since}; not asked again until it does",
        deadline=deadline,
    )


def _is_tls_port(url: httpx.URL, host: Host, response: httpx.Response) -> bool:
    return (
        url.scheme == "http"
        and host.scheme == "http"
        and response.status_code == 400
        and (
            b"HTTPS server" in response.content  # Go
            or b"HTTPS port" in response.content  # nginx
            or (response.http_version == "HTTP/1.0" and not response.headers)
        )
    )


def _check_complete(response: httpx.Response, request: httpx.Request) -> None:
    declared = response.headers.get("content-length")
    if (
        declared is not None
        and declared.isdigit()
        and "content-encoding" not in response.headers
        and len(response.content) != int(declared)
    ):
        raise Truncated(f"body has {len(response.content)} of {declared} bytes", request=request)
