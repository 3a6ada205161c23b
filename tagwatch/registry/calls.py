"""One registry API call: retries around auth around transport, failures as tagwatch errors."""

from __future__ import annotations

import httpx

from tagwatch.core.retry_after import parse_retry_after
from tagwatch.core.times import utcnow
from tagwatch.errors import (
    AccessDenied,
    ProtocolError,
    RateLimited,
    RegistryError,
    RegistryUnavailable,
)
from tagwatch.registry.hosts import Host
from tagwatch.registry.retry import Busy, RetryPolicy, send_with_retries
from tagwatch.registry.tokens import Authenticator
from tagwatch.registry.transport import describe_transport_error, tls_failure

__all__ = ["Caller"]


def _busy(response: httpx.Response) -> Busy | None:
    status = response.status_code
    if status == 429 or status >= 500:
        wait = parse_retry_after(response.headers.get("retry-after"), now=utcnow())
        return Busy(wait, rate_limited=status == 429)
    return None


class Caller:
    """Sends one API request through `auth`, retried on network errors, 429 and 5xx."""

    def __init__(self, auth: Authenticator, retry: RetryPolicy) -> None:
        self._auth = auth
        self._retry = retry

    async def call(
        self, host: Host, method: str, path: str, scope: str, *, accept: str | None = None
    ) -> httpx.Response:
        """The registry's answer; 403 is AccessDenied, exhausted retries their own errors."""

        async def attempt() -> httpx.Response:
            try:
                return await self._auth.send(host, method, path, scope, accept)
            except httpx.DecodingError as exc:
                raise ProtocolError(
                    host.registry,
                    f"{method} {path}: the response body could not be decoded "
                    "(bad Content-Encoding); the registry or a proxy in front of it is broken",
                ) from exc
            except httpx.TransportError as exc:
                if tls_failure(exc):  # retrying will not make the certificate trusted
                    raise RegistryUnavailable(
                        host.registry,
                        "TLS certificate verification failed; install the registry's CA "
                        "or mark it insecure in the configuration",
                    ) from exc
                raise

        def gave_up(response: httpx.Response, busy: Busy, attempts: int) -> RegistryError:
            if response.status_code == 429:
                wait = busy.retry_after
                when = f"; retry after {wait:.0f} s" if wait is not None else ""
                return RateLimited(
                    host.registry,
                    f"rate limited (429) after {attempts} attempts{when}; check less often "
                    "or authenticate for a higher limit",
                    wait,
                )
            return RegistryUnavailable(
                host.registry,
                f"HTTP {response.status_code} after {attempts} attempts; the registry is "
                "failing, try again later",
                status=response.status_code,
            )

        def unreachable(exc: httpx.TransportError, attempts: int) -> RegistryError:
            return RegistryUnavailable(
                host.registry,
                f"{describe_transport_error(exc)} after {attempts} attempts; check "
                "that the registry is up and reachable",
            )

        response = await send_with_retries(
            attempt, policy=self._retry, busy=_busy, gave_up=gave_up, unreachable=unreachable
        )
        if response.status_code == 403:
            raise AccessDenied(
                host.registry,
                f"access denied (403) to {path.split('/manifests/')[0].split('/blobs/')[0]}"
                "; check that these credentials may pull from this repository",
                status=403,
            )
        return response
