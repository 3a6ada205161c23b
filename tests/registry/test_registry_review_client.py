"""Second look at the registry client: challenge lists, shared digests, quiet HEADs, outages."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tagwatch.registry.client as client_module
from tagwatch.core.digests import OCI_MANIFEST, Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import AuthenticationFailed, ProtocolError
from tagwatch.registry import RegistryClient, RegistrySettings
from tagwatch.registry.auth import credentials_allowed, parse_challenges
from tests.support.registry import TestRegistry

HOST = "registry.example.com"
REF = ImageRef.parse(f"{HOST}/team/app:prod")
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()
DIGEST = Digest.of(MANIFEST)


def ref_of(registry: TestRegistry, repo: str, tag: str) -> ImageRef:
    return ImageRef.parse(f"{registry.host}/{repo}:{tag}")


# -- challenge syntax ------------------------------------------------------------------------


def test_empty_list_elements_between_challenge_params_are_skipped() -> None:
    # RFC 7230 section 7: a recipient must accept empty list elements.
    [bearer, basic] = parse_challenges(
        'Bearer realm="https://auth.example/token" , ,service="reg",, Basic realm="b"'
    )
    assert bearer.scheme == "bearer"
    assert dict(bearer.params) == {"realm": "https://auth.example/token", "service": "reg"}
    assert basic.scheme == "basic" and basic.realm == "b"
    [leading] = parse_challenges('Bearer , realm="r"')
    assert leading.realm == "r"


_names = st.sampled_from(["realm", "service", "scope", "error", "charset", "Realm", "SCOPE"])
_values = st.text(st.characters(codec="ascii", exclude_characters="\r\n"), max_size=30)


@given(params=st.dictionaries(_names, _values, min_size=1, max_size=5), lead=st.booleans())
def test_any_quoted_params_round_trip(params: dict[str, str], lead: bool) -> None:
    params = {k.lower(): v for k, v in params.items()}
    quoted = ", ".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in params.items()
    )
    header = f'Bearer {quoted}, Basic realm="after"'
    [bearer, basic] = parse_challenges(header)
    assert dict(bearer.params) == params
    assert basic.realm == "after"


@given(st.text(max_size=80))
def test_no_header_makes_the_parser_raise(header: str) -> None:
    for challenge in parse_challenges(header):
        assert challenge.scheme == challenge.scheme.lower()


# -- observe timing and shared digests against the real registry ------------------------------


async def test_observe_takes_seen_at_when_the_tag_resolves_not_after_describe(
    registry: TestRegistry, repo_name: str
) -> None:
    registry.push_image(repo_name, "v1", content="timing", labels={"a": "b"})
    async with RegistryClient() as client:
        sent_at_now: list[int] = []

        def now() -> datetime:
            sent_at_now.append(client.requests_sent)
            return datetime.now(UTC)

        observation = await client.observe(
            ref_of(registry, repo_name, "v1"), known=lambda d: False, now=now
        )
        assert observation.build is not None and observation.build.labels == {"a": "b"}
        assert sent_at_now == [1]  # the HEAD only; describe's two GETs came after
        assert client.requests_sent == 3


async def test_tags_pushed_together_describe_their_shared_digest_once(
    registry: TestRegistry, repo_name: str
) -> None:
    digest = registry.push_image(repo_name, "1.2.3", content="shared")
    for tag in ("1.2", "1", "latest"):
        registry.tag(repo_name, tag, digest)
    refs = [ref_of(registry, repo_name, t) for t in ("1.2.3", "1.2", "1", "latest")]
    async with RegistryClient() as client:
        observations = await asyncio.gather(
            *(client.observe(r, known=lambda d: False, now=lambda: datetime.now(UTC)) for r in refs)
        )
        assert {o.digest for o in observations} == {digest}
        assert all(o.build is not None for o in observations)
        # 4 HEADs + one manifest GET + one config GET: a Docker Hub manifest GET is a pull.
        assert client.requests_sent == 6


async def test_a_batch_rides_out_a_registry_restart(registry: TestRegistry, repo_name: str) -> None:
    digests = {f"t{i}": registry.push_image(repo_name, f"t{i}", content=f"r{i}") for i in range(20)}
    async with RegistryClient(retry_base=0.2) as client:
        await client.resolve(ref_of(registry, repo_name, "t0"))
        registry.stop()

        async def restart() -> None:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(registry.start)

        restarting = asyncio.create_task(restart())
        got = await asyncio.gather(
            *(client.resolve(ref_of(registry, repo_name, t)) for t in digests)
        )
        await restarting
        assert dict(zip(digests, got, strict=True)) == digests


# -- token registry at scale -----------------------------------------------------------------


async def test_steady_state_on_a_token_registry_is_one_head_per_tag_and_no_token_requests(
    token_registry: TestRegistry, repo_name: str
) -> None:
    issuer = token_registry.issuer
    assert issuer is not None
    repos = [f"{repo_name}-{i}" for i in range(40)]
    for repo in repos:
        token_registry.push_image(repo, "v1", content=repo)
    refs = [ref_of(token_registry, repo, "v1") for repo in repos]
    async with RegistryClient() as client:
        first = await asyncio.gather(*(client.resolve(r) for r in refs))
        assert issuer.count == len(repos)  # one token per repository scope, even when concurrent
        before = client.requests_sent
        second = await asyncio.gather(*(client.resolve(r) for r in refs))
        assert second == first
        assert client.requests_sent - before == len(refs)
        assert issuer.count == len(repos)


async def test_tokens_expiring_under_concurrency_are_refetched_once_per_scope(
    token_registry: TestRegistry, repo_name: str
) -> None:
    issuer = token_registry.issuer
    assert issuer is not None
    issuer.expires_in = 1
    repos = [f"{repo_name}-{i}" for i in range(5)]
    for repo in repos:
        token_registry.push_image(repo, "v1", content=repo)
    refs = [ref_of(token_registry, repo, "v1") for repo in repos for _ in range(4)]
    async with RegistryClient() as client:
        for round_ in range(1, 3):
            await asyncio.gather(*(client.resolve(r) for r in refs))
            assert issuer.count == round_ * len(repos)
            await asyncio.sleep(1.0)


# -- settings keys ---------------------------------------------------------------------------


async def test_settings_keyed_like_docker_config_entries_apply(
    basic_registry: TestRegistry, repo_name: str
) -> None:
    digest = basic_registry.push_image(repo_name, "v1", content="keyed")
    key = f"HTTP://{basic_registry.host}/v2/"
    settings = {key: RegistrySettings(username=basic_registry.username, password="s3cret-pw")}
    async with RegistryClient(settings=settings, docker_config=None) as client:
        assert await client.resolve(ref_of(basic_registry, repo_name, "v1")) == digest


async def test_docker_hub_settings_under_index_docker_io_reach_auth_docker_io() -> None:
    seen: list[httpx.Request] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "auth.docker.io":
            return httpx.Response(200, json={"token": "t", "expires_in": 300})
        if request.headers.get("Authorization") != "Bearer t":
            realm = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'
            return httpx.Response(401, headers={"WWW-Authenticate": realm})
        return httpx.Response(200, headers={"Docker-Content-Digest": str(DIGEST)})

    http = httpx.AsyncClient(transport=httpx.MockTransport(hub))
    settings = {"https://index.docker.io/v1/": RegistrySettings(username="me", password="pw")}
    async with http, RegistryClient(http=http, settings=settings) as client:
        assert await client.resolve(ImageRef.parse("nginx:1.27")) == DIGEST
    [token_request] = [r for r in seen if r.url.host == "auth.docker.io"]
    assert token_request.headers["Authorization"].startswith("Basic ")


# -- registries whose HEAD says nothing ------------------------------------------------------


def _quiet_head_registry(
    requests: list[httpx.Request], *, header_on_head: list[bool]
) -> Callable[[httpx.Request], httpx.Response]:
    """A registry whose HEAD sends a digest only while `header_on_head[0]` is true."""

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.method == "HEAD":
            headers = {"Docker-Content-Digest": str(DIGEST)} if header_on_head[0] else {}
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers={"Content-Type": OCI_MANIFEST}, content=MANIFEST)

    return handler


async def test_a_host_whose_head_gives_no_digest_is_then_resolved_with_one_get() -> None:
    requests: list[httpx.Request] = []
    flag = [False]
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(_quiet_head_registry(requests, header_on_head=flag))
    )
    async with http, RegistryClient(http=http) as client:
        for _ in range(6):
            assert await client.resolve(REF) == DIGEST
    methods = [r.method for r in requests]
    assert methods == ["HEAD", "GET"] * 3 + ["GET"] * 3


async def test_head_is_probed_again_and_a_digest_brings_it_back() -> None:
    requests: list[httpx.Request] = []
    flag = [False]
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(_quiet_head_registry(requests, header_on_head=flag))
    )
    async with http, RegistryClient(http=http) as client:
        for _ in range(3):
            await client.resolve(REF)
        flag[0] = True  # e.g. a proxy in front was fixed
        for _ in range(100):
            assert await client.resolve(REF) == DIGEST
        requests.clear()
        for _ in range(5):
            assert await client.resolve(REF) == DIGEST
    assert [r.method for r in requests] == ["HEAD"] * 5


async def test_a_get_only_host_costs_one_request_per_tag_plus_rare_head_probes() -> None:
    requests: list[httpx.Request] = []
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(_quiet_head_registry(requests, header_on_head=[False]))
    )
    started = time.perf_counter()
    async with http, RegistryClient(http=http) as client:
        for _ in range(3):
            await client.resolve(REF)
        await asyncio.gather(*(client.resolve(REF) for _ in range(997)))
    assert len(requests) == 1000 + 3 + 10  # 3 learning HEADs, plus a re-probe every 100
    assert time.perf_counter() - started < 10


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


async def test_an_endless_body_is_cut_off_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "_MAX_BODY", 1024 * 1024)
    endless = _Endless()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "HEAD":
            return httpx.Response(200)
        return httpx.Response(200, stream=endless)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with http, RegistryClient(http=http) as client:
        with pytest.raises(ProtocolError, match="exceeds 1 MiB"):
            await client.resolve(REF)
    assert endless.sent <= 1024 * 1024 + 64 * 1024


async def test_a_declared_body_above_the_cap_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "_MAX_BODY", 1024 * 1024)
    endless = _Endless()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(1 << 30)}, stream=endless)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with http, RegistryClient(http=http) as client:
        with pytest.raises(ProtocolError, match="1073741824 bytes exceeds 1 MiB"):
            await client.list_tags(REF)
    assert endless.sent == 0


def test_gitlab_com_credentials_may_go_to_its_jwt_realm_only() -> None:
    assert credentials_allowed("registry.gitlab.com", "https://gitlab.com/jwt/auth")
    assert not credentials_allowed("registry.gitlab.com", "https://evil.example/jwt/auth")
    assert not credentials_allowed("registry.example.com", "https://gitlab.com/jwt/auth")


# -- docker credentials in a long-running process --------------------------------------------

ROTATING_HELPER = """#!/bin/sh
read server
printf '{"ServerURL":"%s","Username":"tagwatch","Secret":"%s"}' "$server" "$(cat "SECRET")"
"""


async def test_credentials_from_a_helper_are_asked_again_so_rotated_tokens_work(
    basic_registry: TestRegistry,
    repo_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    digest = basic_registry.push_image(repo_name, "v1", content="rotating")
    secret = tmp_path / "secret"
    secret.write_text("an-expired-token")
    helper = tmp_path / "bin" / "docker-credential-rotating"
    helper.parent.mkdir()
    helper.write_text(ROTATING_HELPER.replace("SECRET", str(secret)))
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {basic_registry.host: "rotating"}}))
    ref = ref_of(basic_registry, repo_name, "v1")
    monkeypatch.setattr(client_module, "_DOCKER_CREDENTIALS_LIFE", timedelta(seconds=0.3))
    async with RegistryClient(docker_config=config, max_retries=0) as client:
        with pytest.raises(AuthenticationFailed, match="refused our credentials"):
            await client.resolve(ref)
        secret.write_text(basic_registry.password)  # the helper now hands out a fresh token
        await asyncio.sleep(0.4)
        assert await client.resolve(ref) == digest


# -- tag pagination that never ends ---------------------------------------------------------


async def test_a_tags_list_whose_next_link_loops_stops_after_one_round() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        page = request.url.params.get("last", "")
        tags = {"": ["a", "b"], "b": ["c", "d"]}.get(page, ["a", "b"])
        nxt = "b" if page == "" else "loop"
        link = f'</v2/team/app/tags/list?n=2&last={nxt}>; rel="next"'
        return httpx.Response(200, json={"tags": tags}, headers={"Link": link})

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with http, RegistryClient(http=http) as client:
        assert await client.list_tags(REF) == ["a", "b", "c", "d"]
    assert len(requests) == 3  # the third page brought nothing new: stop, not 10,000 pages
