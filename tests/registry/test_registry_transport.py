"""The transport: TLS fallback for insecure hosts, undecodable bodies, the body cap."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tagwatch.errors import AuthenticationFailed, ProtocolError
from tagwatch.registry import RegistryClient, RegistrySettings
from tests.support.fake_registry import DIGEST, HOST, REF

# -- insecure registries: TLS is dropped only for a server that does not speak it ---------------


def _refused(request: httpx.Request) -> httpx.ConnectError:
    try:
        raise ConnectionRefusedError(111, "Connect call failed")
    except ConnectionRefusedError as cause:
        try:
            raise httpx.ConnectError("All connection attempts failed", request=request) from cause
        except httpx.ConnectError as exc:
            return exc


async def test_an_insecure_registry_that_is_down_keeps_https_when_it_comes_back() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if len(requests) <= 2:
            raise _refused(request)
        if request.url.scheme == "http":
            return httpx.Response(400, text="The plain HTTP request was sent to HTTPS port")
        return httpx.Response(200, headers={"Docker-Content-Digest": str(DIGEST)})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    settings = {HOST: RegistrySettings(insecure=True)}
    async with http, RegistryClient(http=http, settings=settings, retry_base=0.001) as client:
        assert await client.resolve(REF) == DIGEST
    assert [r.url.scheme for r in requests] == ["https", "https", "https"]


async def test_an_insecure_host_on_plain_http_that_moves_to_tls_behind_nginx_is_followed() -> None:
    requests: list[httpx.Request] = []
    tls = [False]

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.scheme == "https" and not tls[0]:
            raise httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number")
        if request.url.scheme == "http" and tls[0]:
            return httpx.Response(400, text="400 The plain HTTP request was sent to HTTPS port")
        return httpx.Response(200, headers={"Docker-Content-Digest": str(DIGEST)})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    settings = {HOST: RegistrySettings(insecure=True)}
    async with http, RegistryClient(http=http, settings=settings) as client:
        assert await client.resolve(REF) == DIGEST
        tls[0] = True
        assert await client.resolve(REF) == DIGEST
        assert await client.resolve(REF) == DIGEST
    assert [r.url.scheme for r in requests] == ["https", "http", "http", "https", "https"]


# -- library errors never escape untranslated -------------------------------------------------


async def test_a_body_with_a_broken_content_encoding_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200)  # no digest: the client must GET
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip")

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with http, RegistryClient(http=http) as client:
        with pytest.raises(ProtocolError, match="could not be decoded") as caught:
            await client.resolve(REF)
    assert str(caught.value).startswith(HOST) and "\n" not in str(caught.value)


async def test_a_token_service_with_a_broken_content_encoding_is_authentication_failed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"nope")
        realm = f'Bearer realm="https://{HOST}/token",service="reg"'
        return httpx.Response(401, headers={"WWW-Authenticate": realm})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with http, RegistryClient(http=http) as client:
        with pytest.raises(AuthenticationFailed, match=f"https://{HOST}/token"):
            await client.resolve(REF)


# -- a server that sends far too much is refused before it exhausts memory ----------------------


class _Endless(httpx.AsyncByteStream):
    """A chunked body that never ends (no Content-Length)."""

    def __init__(self) -> None:
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.sent += 64 * 1024
            yield b"x" * (64 * 1024)


async def test_an_endless_body_is_cut_off_at_the_cap() -> None:
    endless = _Endless()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200)
        return httpx.Response(200, stream=endless)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with http, RegistryClient(http=http, max_body=1024 * 1024) as client:
        with pytest.raises(ProtocolError, match="exceeds 1 MiB"):
            await client.resolve(REF)
    assert endless.sent <= 1024 * 1024 + 64 * 1024


async def test_a_declared_body_above_the_cap_is_not_read() -> None:
    endless = _Endless()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(1 << 30)}, stream=endless)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with http, RegistryClient(http=http, max_body=1024 * 1024) as client:
        with pytest.raises(ProtocolError, match="1073741824 bytes exceeds 1 MiB"):
            await client.list_tags(REF)
    assert endless.sent == 0
