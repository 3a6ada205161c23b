"""Registry auth: challenges, bearer tokens reused until expiry, Basic, where credentials go."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

import pytest

from tagwatch.core.references import ImageRef
from tagwatch.errors import AuthenticationFailed
from tagwatch.registry import RegistryClient, RegistrySettings
from tagwatch.registry.auth import (
    Challenge,
    credentials_allowed,
    is_loopback,
    parse_challenges,
    parse_token_response,
)
from tests.support.registry import TestRegistry


def ref_of(registry: TestRegistry, repo: str, tag: str = "v1") -> ImageRef:
    return ImageRef.parse(f"{registry.host}/{repo}:{tag}")


def client_for(registry: TestRegistry, **settings: object) -> RegistryClient:
    return RegistryClient(
        settings={registry.host: RegistrySettings(**settings)},  # type: ignore[arg-type]
        max_retries=1,
        retry_base=0.01,
        max_retry_wait=0.05,
    )


# -- challenge parsing (RFC 7235) ------------------------------------------------------------


def test_bearer_challenge_params_are_parsed_with_quoted_commas() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/nginx:pull,push"'
    )
    assert parse_challenges(header) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:library/nginx:pull,push",
            },
        )
    ]


def test_scheme_and_param_names_are_case_insensitive_and_values_unescaped() -> None:
    [challenge] = parse_challenges(
        'BEARER Realm = "https://a/t" , Service=reg , error="say \\"hi\\""'
    )
    assert challenge.scheme == "bearer"
    assert challenge.params == {"realm": "https://a/t", "service": "reg", "error": 'say "hi"'}


def test_several_challenges_in_one_header_are_split() -> None:
    challenges = parse_challenges('Basic realm="x", Bearer realm="https://t/token",service="s"')
    assert [c.scheme for c in challenges] == ["basic", "bearer"]
    assert challenges[0].params == {"realm": "x"}
    assert challenges[1].params == {"realm": "https://t/token", "service": "s"}


def test_token68_and_bare_schemes_are_parsed() -> None:
    challenges = parse_challenges("Negotiate abc+/def==, Basic, Bearer realm=r")
    assert challenges[0] == Challenge("negotiate", {}, "abc+/def==")
    assert challenges[1] == Challenge("basic")
    assert challenges[2].params == {"realm": "r"}


def test_garbage_challenge_yields_what_parsed() -> None:
    assert parse_challenges("") == []
    assert parse_challenges("   ,  ") == []
    assert parse_challenges('Bearer realm="unterminated')[0].scheme == "bearer"


def test_token_response_defaults_to_sixty_seconds_and_takes_access_token() -> None:
    token = parse_token_response({"access_token": "abc"}, now=1000.0)
    assert token is not None and token.value == "abc"
    assert 1054.0 <= token.expires_at <= 1060.0
    assert parse_token_response({"token": "t", "expires_in": 300}, now=0.0).expires_at == 295.0  # type: ignore[union-attr]
    assert parse_token_response({"nothing": 1}) is None
    assert "abc" not in repr(token)


def test_credentials_go_only_to_the_registry_host_or_allowed_realms() -> None:
    assert credentials_allowed("ghcr.io", "https://ghcr.io/token")
    assert credentials_allowed("registry-1.docker.io", "https://auth.docker.io/token")
    assert credentials_allowed("127.0.0.1:5000", "http://127.0.0.1:5001/token")
    assert not credentials_allowed("registry.example.com", "https://evil.example.net/token")
    assert credentials_allowed(
        "registry.example.com", "https://auth.example.net/token", ["auth.example.net"]
    )
    assert credentials_allowed(
        "r.example.com", "https://a.example.net:8443/t", ["a.example.net:8443"]
    )
    assert not credentials_allowed("ghcr.io", "https://auth.docker.io/token")


def test_loopback_hosts_are_recognised() -> None:
    assert is_loopback("127.0.0.1:5000") and is_loopback("127.9.9.9") and is_loopback("[::1]:80")
    assert is_loopback("localhost:5000")
    assert not is_loopback("registry.example.com") and not is_loopback("10.0.0.1:5000")


# -- Basic auth against the real registry ----------------------------------------------------


async def test_basic_auth_with_configured_credentials_resolves(
    basic_registry: TestRegistry, repo_name: str
) -> None:
    digest = basic_registry.push_image(repo_name, "v1", content="basic")
    async with client_for(
        basic_registry, username=basic_registry.username, password=basic_registry.password
    ) as client:
        assert await client.resolve(ref_of(basic_registry, repo_name)) == digest
        before = client.requests_sent
        assert await client.resolve(ref_of(basic_registry, repo_name)) == digest
        assert client.requests_sent - before == 1  # Basic is sent up front once learned


async def test_basic_registry_without_credentials_fails_with_a_hint(
    basic_registry: TestRegistry, repo_name: str
) -> None:
    basic_registry.push_image(repo_name, "v1", content="basic")
    async with client_for(basic_registry) as client:
        with pytest.raises(AuthenticationFailed, match="anonymous access refused") as caught:
            await client.resolve(ref_of(basic_registry, repo_name))
    assert basic_registry.host in str(caught.value)


async def test_wrong_password_fails_without_revealing_it(
    basic_registry: TestRegistry, repo_name: str
) -> None:
    basic_registry.push_image(repo_name, "v1", content="basic")
    async with client_for(
        basic_registry, username=basic_registry.username, password="wrong-horse-battery"
    ) as client:
        with pytest.raises(AuthenticationFailed, match="refused our credentials") as caught:
            await client.resolve(ref_of(basic_registry, repo_name))
    assert "wrong-horse-battery" not in str(caught.value)
    assert "\n" not in str(caught.value)


# -- token auth against the real registry ----------------------------------------------------


async def test_anonymous_token_is_fetched_once_and_reused(
    token_registry: TestRegistry, repo_name: str
) -> None:
    issuer = token_registry.issuer
    assert issuer is not None
    digest = token_registry.push_image(repo_name, "v1", content="tok")
    async with client_for(token_registry) as client:
        for _ in range(5):
            assert await client.resolve(ref_of(token_registry, repo_name)) == digest
        assert issuer.count == 1
        assert issuer.requests[0].scope == (f"repository:{repo_name}:pull",)
        assert issuer.requests[0].service == issuer.service
        assert issuer.requests[0].authorization is None
        before = client.requests_sent
        await client.resolve(ref_of(token_registry, repo_name))
        assert client.requests_sent - before == 1


async def test_each_repository_gets_its_own_token_without_a_second_challenge(
    token_registry: TestRegistry, repo_name: str
) -> None:
    assert token_registry.issuer is not None
    token_registry.push_image(repo_name + "-a", "v1", content="a")
    token_registry.push_image(repo_name + "-b", "v1", content="b")
    async with client_for(token_registry) as client:
        await client.resolve(ref_of(token_registry, repo_name + "-a"))
        before = client.requests_sent
        await client.resolve(ref_of(token_registry, repo_name + "-b"))
        assert client.requests_sent - before == 2  # token + HEAD, no 401 round trip
        assert token_registry.issuer.count == 2


async def test_concurrent_resolves_share_one_token_request(
    token_registry: TestRegistry, repo_name: str
) -> None:
    assert token_registry.issuer is not None
    token_registry.push_image(repo_name, "v1", content="c")
    async with client_for(token_registry) as client:
        await client.resolve(ref_of(token_registry, repo_name + "-warm", "x"))  # learn the realm
        await asyncio.gather(
            *(client.resolve(ref_of(token_registry, repo_name)) for _ in range(20))
        )
    assert token_registry.issuer.count == 2


async def test_expired_token_is_replaced(token_registry: TestRegistry, repo_name: str) -> None:
    issuer = token_registry.issuer
    assert issuer is not None
    issuer.expires_in = 1
    digest = token_registry.push_image(repo_name, "v1", content="exp")
    async with client_for(token_registry) as client:
        assert await client.resolve(ref_of(token_registry, repo_name)) == digest
        await asyncio.sleep(1.0)
        assert await client.resolve(ref_of(token_registry, repo_name)) == digest
    assert issuer.count == 2


async def test_token_with_credentials_sends_basic_to_a_realm_on_the_same_host(
    token_registry: TestRegistry, repo_name: str
) -> None:
    issuer = token_registry.issuer
    assert issuer is not None
    issuer.require_credentials = True
    digest = token_registry.push_image(repo_name, "v1", content="priv")
    async with client_for(
        token_registry, username=token_registry.username, password=token_registry.password
    ) as client:
        assert await client.resolve(ref_of(token_registry, repo_name)) == digest
    assert issuer.requests[-1].authorization == token_registry.basic_header()


async def test_token_service_refusing_credentials_is_authentication_failed(
    token_registry: TestRegistry, repo_name: str
) -> None:
    issuer = token_registry.issuer
    assert issuer is not None
    issuer.require_credentials = True
    token_registry.push_image(repo_name, "v1", content="priv")
    async with client_for(
        token_registry, username=token_registry.username, password="not-the-password"
    ) as client:
        with pytest.raises(AuthenticationFailed, match="token service") as caught:
            await client.resolve(ref_of(token_registry, repo_name))
    assert issuer.realm in str(caught.value)
    assert "not-the-password" not in str(caught.value)


async def test_private_repository_without_credentials_is_authentication_failed(
    token_registry: TestRegistry, repo_name: str
) -> None:
    assert token_registry.issuer is not None
    token_registry.issuer.anonymous_actions = ()
    token_registry.push_image(repo_name, "v1", content="priv")
    async with client_for(token_registry) as client:
        with pytest.raises(AuthenticationFailed, match="anonymous access refused"):
            await client.resolve(ref_of(token_registry, repo_name))
    assert token_registry.issuer.count == 1  # a fresh token that fails is not fetched again


async def test_token_server_failing_is_authentication_failed_naming_the_realm(
    token_registry: TestRegistry, repo_name: str
) -> None:
    issuer = token_registry.issuer
    assert issuer is not None
    token_registry.push_image(repo_name, "v1", content="x")
    issuer.fail_with(500)
    async with client_for(token_registry) as client:
        with pytest.raises(AuthenticationFailed, match="HTTP 500") as caught:
            await client.resolve(ref_of(token_registry, repo_name))
    assert issuer.realm in str(caught.value)
    assert issuer.count == 2  # one retry (max_retries=1)


async def test_credentials_are_not_sent_to_a_token_realm_on_another_host(
    make_registry: Callable[..., TestRegistry], repo_name: str
) -> None:
    registry = make_registry(auth="token", token_realm_host="localhost")
    issuer = registry.issuer
    assert issuer is not None and issuer.realm.startswith("http://localhost:")
    digest = registry.push_image(repo_name, "v1", content="elsewhere")
    async with client_for(registry, username=registry.username, password=registry.password) as c:
        assert await c.resolve(ref_of(registry, repo_name)) == digest
    assert [r.authorization for r in issuer.requests] == [None]

    issuer.reset()
    async with client_for(
        registry,
        username=registry.username,
        password=registry.password,
        allowed_auth_hosts=("localhost",),
    ) as c:
        assert await c.resolve(ref_of(registry, repo_name)) == digest
    raw = f"{registry.username}:{registry.password}".encode()
    expected = "Basic " + base64.b64encode(raw).decode()
    assert [r.authorization for r in issuer.requests] == [expected]


async def test_refusal_after_withholding_credentials_says_how_to_allow_the_realm(
    make_registry: Callable[..., TestRegistry], repo_name: str
) -> None:
    registry = make_registry(auth="token", token_realm_host="localhost")
    assert registry.issuer is not None
    registry.issuer.require_credentials = True
    registry.push_image(repo_name, "v1", content="elsewhere")
    async with client_for(registry, username=registry.username, password=registry.password) as c:
        with pytest.raises(AuthenticationFailed, match="allowed_auth_hosts") as caught:
            await c.resolve(ref_of(registry, repo_name))
    assert "'localhost'" in str(caught.value)
    assert [r.authorization for r in registry.issuer.requests] == [None]
