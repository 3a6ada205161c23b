"""Registry auth in flight: answer 401 challenges, fetch bearer tokens and cache them per scope."""

from __future__ import annotations

import asyncio
import base64
import json
import logging

import httpx

from tagwatch.core.retry_after import parse_retry_after
from tagwatch.core.times import utcnow
from tagwatch.errors import AuthenticationFailed
from tagwatch.registry.auth import (
    BearerToken,
    Challenge,
    credentials_allowed,
    is_loopback,
    parse_challenges,
    parse_token_response,
)
from tagwatch.registry.credentials import Credentials
from tagwatch.registry.hosts import Host, Hosts
from tagwatch.registry.retry import Busy, RetryPolicy, send_with_retries
from tagwatch.registry.transport import Transport, describe_transport_error

__all__ = ["Authenticator"]

log = logging.getLogger(__name__)

_TokenKey = tuple[str, str, str]


def basic(credentials: Credentials) -> str:
    """The `Authorization` value for Basic auth with `credentials`."""
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _withheld_hint(realm: str) -> str:
    realm_host = httpx.URL(realm).host
    return (
        f"access refused; credentials were not sent to token realm {realm} on another host: "
        f"add {realm_host!r} to allowed_auth_hosts if you trust it"
    )


def _token_key(challenge: Challenge, scope: str) -> _TokenKey:
    return (challenge.params.get("realm", ""), challenge.params.get("service", ""), scope)


def _busy(response: httpx.Response) -> Busy | None:
    if response.status_code == 429 or response.status_code >= 500:
        wait = parse_retry_after(response.headers.get("retry-after"), now=utcnow())
        return Busy(wait)
    return None


class Authenticator:
    """Sends requests with the right `Authorization`, learning each host's challenge once.

    Bearer tokens are cached per (realm, service, scope) until they expire and fetched
    single-flight; credentials go to a token realm only on the registry's own host or a host
    the user allowed, and a realm we withheld them from is named in the error.
    """

    def __init__(self, transport: Transport, hosts: Hosts, retry: RetryPolicy) -> None:
        self._transport = transport
        self._hosts = hosts
        self._retry = retry
        self._tokens: dict[_TokenKey, BearerToken] = {}
        self._locks: dict[_TokenKey, asyncio.Lock] = {}

    async def send(
        self, host: Host, method: str, path: str, scope: str, accept: str | None
    ) -> httpx.Response:
        """One request, answering a 401 challenge once (a second 401 is AuthenticationFailed)."""
        headers: dict[str, str] = {"Accept": accept} if accept else {}
        authorization, fresh = await self._authorization(host, scope)
        if authorization is not None:
            headers["Authorization"] = authorization
        response = await self._transport.send(host, method, path, headers)
        if response.status_code != 401:
            return response
        challenges = parse_challenges(", ".join(response.headers.get_list("www-authenticate")))
        bearer = next((c for c in challenges if c.scheme == "bearer" and c.realm), None)
        basic_challenge = next((c for c in challenges if c.scheme == "basic"), None)
        if bearer is not None:
            host.challenge = bearer
            if fresh:
                raise await self._refused(host, bearer)
            token = await self._bearer(host, bearer, scope, stale=authorization)
            headers["Authorization"] = f"Bearer {token}"
        elif basic_challenge is not None:
            host.challenge = basic_challenge
            creds = await self._hosts.credentials(host)
            if creds is None or authorization is not None:
                raise await self._refused(host, basic_challenge)
            headers["Authorization"] = basic(creds)
        else:
            raise AuthenticationFailed(
                host.registry, "answered 401 without a Bearer or Basic challenge; cannot log in"
            )
        response = await self._transport.send(host, method, path, headers)
        if response.status_code == 401:
            raise await self._refused(host, host.challenge)
        return response

    async def _refused(self, host: Host, challenge: Challenge) -> AuthenticationFailed:
        creds = await self._hosts.credentials(host)
        if creds is not None and challenge.scheme == "bearer" and host.withheld_from is not None:
            realm = challenge.params.get("realm", "")
            if host.withheld_from == str(httpx.URL(realm).copy_with(query=None)):
                return AuthenticationFailed(host.registry, _withheld_hint(host.withheld_from))
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

    async def _authorization(self, host: Host, scope: str) -> tuple[str | None, bool]:
        """The Authorization header to send up front, and whether a token was fetched for it."""
        challenge = host.challenge
        if challenge is None:
            return None, False
        if challenge.scheme == "bearer":
            token = self._tokens.get(_token_key(challenge, scope))
            if token is not None and token.valid():
                return f"Bearer {token.value}", False
            return f"Bearer {await self._bearer(host, challenge, scope, stale=None)}", True
        creds = await self._hosts.credentials(host)
        return (basic(creds) if creds is not None else None), False

    async def _bearer(
        self, host: Host, challenge: Challenge, scope: str, *, stale: str | None
    ) -> str:
        """A valid token for `scope` (single-flight per realm/service/scope); not `stale`."""
        key = _token_key(challenge, scope)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            token = self._tokens.get(key)
            if token is not None and token.valid() and f"Bearer {token.value}" != stale:
                return token.value
            token = await self._fetch(host, challenge, scope)
            self._tokens[key] = token
            return token.value

    def _realm(self, host: Host, challenge: Challenge) -> httpx.URL:
        try:
            url = httpx.URL(challenge.params["realm"])
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
        return url

    async def _token_headers(self, host: Host, realm: str, realm_name: str) -> dict[str, str]:
        """Basic credentials for the token realm, when the realm may have them."""
        creds = await self._hosts.credentials(host)
        if creds is None:
            return {}
        allowed_hosts = host.settings.allowed_auth_hosts
        if credentials_allowed(host.api_host, realm, allowed_hosts) or credentials_allowed(
            host.registry, realm, allowed_hosts
        ):
            return {"Authorization": basic(creds)}
        if host.withheld_from != realm_name:
            host.withheld_from = realm_name
            log.warning(
                "%s: not sending credentials to token realm %s on another host; "
                "list that host in allowed_auth_hosts to trust it",
                host.registry,
                realm_name,
            )
        return {}

    async def _fetch(self, host: Host, challenge: Challenge, scope: str) -> BearerToken:
        url = self._realm(host, challenge)
        realm_name = str(url.copy_with(query=None))
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.params.get("service"):
            params.append(("service", challenge.params["service"]))
        params.append(("scope", scope))
        scope_from_challenge = challenge.params.get("scope")
        if scope_from_challenge and scope_from_challenge != scope:
            params.extend(("scope", s) for s in scope_from_challenge.split(" ") if s)
        headers = await self._token_headers(host, challenge.params["realm"], realm_name)
        request_url = url.copy_merge_params(params)

        async def get() -> httpx.Response:
            try:
                return await self._transport.get(host, request_url, headers)
            except httpx.DecodingError as exc:
                raise AuthenticationFailed(
                    host.registry,
                    f"token service {realm_name} sent a body that could not be decoded "
                    "(bad Content-Encoding); check the registry's auth service",
                ) from exc

        def gave_up(response: httpx.Response, _: Busy, attempts: int) -> AuthenticationFailed:
            return AuthenticationFailed(
                host.registry,
                f"token service {realm_name} answered HTTP {response.status_code} after "
                f"{attempts} attempts; try again later",
            )

        def unreachable(exc: httpx.TransportError, _: int) -> AuthenticationFailed:
            return AuthenticationFailed(
                host.registry,
                f"token service {realm_name} unreachable "
                f"({describe_transport_error(exc)}); check the registry's auth service",
            )

        response = await send_with_retries(
            get, policy=self._retry, busy=_busy, gave_up=gave_up, unreachable=unreachable
        )
        return self._token_from(host, response, realm_name, headers)

    def _token_from(
        self, host: Host, response: httpx.Response, realm_name: str, headers: dict[str, str]
    ) -> BearerToken:
        if response.status_code in (401, 403):
            if host.credentials is not None and "Authorization" not in headers:
                raise AuthenticationFailed(host.registry, _withheld_hint(realm_name))
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
