"""Challenges, tokens at scale, which realm may have credentials, credentials that rotate."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagwatch.errors import AuthenticationFailed
from tagwatch.registry import RegistryClient
from tagwatch.registry.auth import credentials_allowed, parse_challenges
from tests.support.fake_registry import ref_of
from tests.support.registry import TestRegistry

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
    # `lead`: an empty list element before the first param, which RFC 7235 allows.
    header = f'Bearer {", " if lead else ""}{quoted}, Basic realm="after"'
    [bearer, basic] = parse_challenges(header)
    assert dict(bearer.params) == params
    assert basic.realm == "after"


@given(st.text(max_size=80))
def test_no_header_makes_the_parser_raise(header: str) -> None:
    for challenge in parse_challenges(header):
        assert challenge.scheme == challenge.scheme.lower()


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
    async with RegistryClient(
        docker_config=config, max_retries=0, docker_credentials_life=timedelta(seconds=0.3)
    ) as client:
        with pytest.raises(AuthenticationFailed, match="refused our credentials"):
            await client.resolve(ref)
        secret.write_text(basic_registry.password)  # the helper now hands out a fresh token
        await asyncio.sleep(0.4)
        assert await client.resolve(ref) == digest


def test_gitlab_com_credentials_may_go_to_its_jwt_realm_only() -> None:
    assert credentials_allowed("registry.gitlab.com", "https://gitlab.com/jwt/auth")
    assert not credentials_allowed("registry.gitlab.com", "https://evil.example/jwt/auth")
    assert not credentials_allowed("registry.example.com", "https://gitlab.com/jwt/auth")
