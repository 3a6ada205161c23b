"""GET JSON pages from a vendor REST API: bounded retries on 429/5xx, errors as tagwatch errors."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx

from tagwatch.core.retry_after import parse_retry_after
from tagwatch.core.times import utcnow
from tagwatch.errors import (
    AccessDenied,
    AuthenticationFailed,
    ProtocolError,
    RateLimited,
    RegistryError,
    RegistryUnavailable,
)
from tagwatch.registry.retry import Busy, RetryPolicy, Sleep, send_with_retries
from tagwatch.registry.transport import next_link

__all__ = ["VendorAPI", "next_link"]

log = logging.getLogger(__name__)


class VendorAPI:
    """One vendor API at `base_url` over a shared httpx.AsyncClient.

    `get(url)` returns a 200 or 404 response; a 429 is retried after its Retry-After (seconds,
    HTTP date or unix epoch) when that fits in `max_wait`, 5xx and network errors with backoff;
    after that they become RateLimited / RegistryUnavailable. 401 is AuthenticationFailed
    (with `auth_hint`), 403 AccessDenied, or RateLimited when GitHub says the quota is spent.
    Absolute URLs (pagination links) are followed only on `base_url`'s own origin, so the
    `Authorization` header never leaves it. The header is never logged or put in a message.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        auth_hint: str = "",
        max_retries: int = 3,
        max_wait: float = 30.0,
        retry_base: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._http = http
        self.base = httpx.URL(base_url.rstrip("/") + "/")
        self.name = self.base.host + (f":{self.base.port}" if self.base.port else "")
        self._headers = dict(headers or {})
        self._auth_hint = auth_hint
        self._retry = RetryPolicy(max_retries=max_retries, max_wait=max_wait, base=retry_base)
        self._sleep = sleep

    def url(self, path_or_url: str) -> httpx.URL:
        """`path_or_url` resolved against the base; refuses another origin."""
        url = self.base.join(path_or_url.lstrip("/") if "://" not in path_or_url else path_or_url)
        if (url.scheme, url.host, url.port) != (self.base.scheme, self.base.host, self.base.port):
            raise ProtocolError(self.name, f"a pagination link points to another host ({url.host})")
        return url

    async def get(
        self, path_or_url: str, params: Mapping[str, str] | None = None
    ) -> httpx.Response:
        url = self.url(path_or_url)

        async def attempt() -> httpx.Response:
            return await self._http.get(url, params=params, headers=self._headers)

        def gave_up(response: httpx.Response, busy: Busy, attempts: int) -> RegistryError:
            status = response.status_code
            if busy.rate_limited:
                wait = busy.retry_after
                when = f"; retry in {wait:.0f} s" if wait is not None else ""
                return RateLimited(
                    self.name, f"rate limited (HTTP {status}){when}", wait, status=status
                )
            return RegistryUnavailable(
                self.name,
                f"HTTP {status} after {attempts} attempts; try again later",
                status=status,
            )

        def unreachable(exc: httpx.TransportError, attempts: int) -> RegistryError:
            return RegistryUnavailable(self.name, f"{type(exc).__name__} after {attempts} attempts")

        response = await send_with_retries(
            attempt,
            policy=self._retry,
            busy=self._busy,
            gave_up=gave_up,
            unreachable=unreachable,
            sleep=self._sleep,
        )
        status = response.status_code
        if status in (200, 404):
            return response
        if status == 401:
            raise AuthenticationFailed(self.name, f"HTTP 401 unauthorized{self._auth_hint}")
        if status == 403:
            raise AccessDenied(self.name, f"HTTP 403 forbidden ({_message(response)})")
        raise ProtocolError(self.name, f"unexpected HTTP {status} ({_message(response)})")

    def _busy(self, response: httpx.Response) -> Busy | None:
        if response.status_code == 429 or self._quota_spent(response):
            wait = self._retry_after(response)
            log.info("%s: rate limited, retry after %.1f s", self.name, wait or 0)
            return Busy(wait, rate_limited=True)
        if response.status_code >= 500:
            return Busy()
        return None

    async def get_json(
        self, path_or_url: str, params: Mapping[str, str] | None = None
    ) -> tuple[Any, httpx.Response]:
        """`get`, and the decoded JSON body (None for a 404)."""
        response = await self.get(path_or_url, params)
        if response.status_code == 404:
            return None, response
        try:
            return json.loads(response.content), response
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProtocolError(self.name, "answered with a body that is not JSON") from exc

    async def json_pages(
        self,
        path: str,
        params: Mapping[str, str],
        next_of: Callable[[Any, httpx.Response], str | None],
        *,
        max_pages: int,
    ) -> AsyncIterator[Any]:
        """The JSON body of each page from `path` on (None for a 404, and no more after it),
        at most `max_pages`. `next_of` reads where the next page is from a body the caller
        accepted and its answer (None: the last); that link carries the query itself."""
        target: str | None = path
        query: Mapping[str, str] | None = params
        for _page in range(max_pages):
            if target is None:
                return
            body, response = await self.get_json(target, query)
            yield body
            if body is None:
                return
            target = next_of(body, response)
            query = None

    @staticmethod
    def _quota_spent(response: httpx.Response) -> bool:
        # GitHub answers 403 (not 429) when the primary rate limit is used up.
        return response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0"

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        now = utcnow()
        wait = parse_retry_after(response.headers.get("retry-after"), now=now)
        if wait is None:  # GitHub: x-ratelimit-reset is a unix time
            wait = parse_retry_after(response.headers.get("x-ratelimit-reset"), now=now)
        return wait


def _message(response: httpx.Response) -> str:
    """A short, safe description of an error body: its `message`/`detail`, else nothing."""
    try:
        body = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "no details"
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])[:200]
    return "no details"
