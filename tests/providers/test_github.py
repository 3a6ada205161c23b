"""GitHub Packages (GHCR) client against a local server speaking GitHub's JSON and Link paging."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import AuthenticationFailed, RateLimited, RegistryError, UsageError
from tagwatch.registry.providers.github import GitHubPackages
from tests.support.github_api import FakeGitHubAPI

CREATED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def _digest(n: int) -> Digest:
    return Digest.of(f"version {n}".encode())


def _gh(fake: FakeGitHubAPI, http: httpx.AsyncClient, token: str | None = None) -> GitHubPackages:
    return GitHubPackages(
        http, token=fake.token if token is None else token, base_url=fake.url, retry_base=0.01
    )


async def test_each_tag_of_a_version_is_a_record_dated_by_the_version(
    github_api: FakeGitHubAPI, http: httpx.AsyncClient
) -> None:
    github_api.add_version("org", "app", _digest(1), tags=["v1"], created=CREATED)
    github_api.add_version(
        "org", "app", _digest(2), tags=["v2", "prod"], created=CREATED + timedelta(days=1)
    )
    github_api.add_version("org", "app", _digest(3), tags=[], created=CREATED)  # untagged
    records = await _gh(github_api, http).tags(ImageRef.parse("ghcr.io/org/app:prod"))
    assert {(r.tag, r.digest, r.pushed_at, r.certain) for r in records} == {
        ("v1", _digest(1), CREATED, True),
        ("v2", _digest(2), CREATED + timedelta(days=1), True),
        ("prod", _digest(2), CREATED + timedelta(days=1), True),
    }


async def test_a_version_retagged_after_its_push_is_dated_by_updated_at_uncertain(
    github_api: FakeGitHubAPI, http: httpx.AsyncClient
) -> None:
    moved = CREATED + timedelta(days=5)
    github_api.add_version("org", "app", _digest(1), tags=["prod"], created=CREATED, updated=moved)
    (record,) = await _gh(github_api, http).tags(ImageRef.parse("ghcr.io/org/app:prod"))
    assert (record.pushed_at, record.certain) == (moved, False)


async def test_package_names_with_slashes_are_url_encoded(
    github_api: FakeGitHubAPI, http: httpx.AsyncClient
) -> None:
    github_api.add_version("org", "team/app", _digest(1), tags=["prod"], created=CREATED)
    (record,) = await _gh(github_api, http).tags(ImageRef.parse("ghcr.io/org/team/app:prod"))
    assert record.digest == _digest(1)
    assert github_api.requests[0].path == "/orgs/org/packages/container/team%2Fapp/versions"


async def test_a_user_package_is_found_after_the_org_path_404s(
    github_api: FakeGitHubAPI, http: httpx.AsyncClient
) -> None:
    github_api.add_version("alice", "tool", _digest(1), tags=["v1"], created=CREATED, kind="users")
    (record,) = await _gh(github_api, http).tags(ImageRef.parse("ghcr.io/alice/tool:v1"))
    assert record.tag == "v1"
    assert [r.path.split("/")[1] for r in github_api.requests] == ["orgs", "users"]


async def test_every_page_is_followed_through_link(
    github_api: FakeGitHubAPI, http: httpx.AsyncClient
) -> None:
    for n in range(230):
        github_api.add_version("org", "app", _digest(n), tags=[f"t{n}"], created=CREATED)
    records = await _gh(github_api, http).tags(ImageRef.parse("ghcr.io/org/app:t0"))
    assert sorted(r.tag for r in records) == sorted(f"t{n}" for n in range(230))
    assert [r.query.get("page", "1") for r in github_api.requests] == ["1", "2", "3"]


async def test_the_token_is_sent_as_bearer_and_never_logged(
    github_api: FakeGitHubAPI, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    github_api.add_version("org", "app", _digest(1), tags=["prod"], created=CREATED)
    github_api.fail_next(429, {"Retry-After": "0"})
    await _gh(github_api, http).tags(ImageRef.parse("ghcr.io/org/app:prod"))
    assert {r.authorization for r in github_api.requests} == {f"Bearer {github_api.token}"}
    assert github_api.token not in caplog.text


async def test_a_bad_token_is_authentication_failed_without_the_token_in_the_message(
    github_api: FakeGitHubAPI, http: httpx.AsyncClient
) -> None:
    with pytest.raises(AuthenticationFailed, match="read:packages") as caught:
        await _gh(github_api, http, token="ghp_wrong_secret").tags(
            ImageRef.parse("ghcr.io/org/app:prod")
        )
    assert "ghp_wrong_secret" not in str(caught.value)


async def test_no_token_says_github_token_is_not_set(
    github_api: FakeGitHubAPI, http: httpx.AsyncClient
) -> None:
    gh = GitHubPackages(http, token=None, base_url=github_api.url)
    with pytest.raises(AuthenticationFailed, match="GITHUB_TOKEN is not set"):
        await gh.tags(ImageRef.parse("ghcr.io/org/app:prod"))
    assert github_api.requests[0].authorization is None


async def test_an_unknown_package_is_not_found(
    github_api: FakeGitHubAPI, http: httpx.AsyncClient
) -> None:
    with pytest.raises(RegistryError, match="not found"):
        await _gh(github_api, http).tags(ImageRef.parse("ghcr.io/org/nothing:prod"))


async def test_a_spent_quota_403_is_rate_limited_until_the_reset(
    github_api: FakeGitHubAPI, http: httpx.AsyncClient
) -> None:
    reset = int(datetime.now(UTC).timestamp()) + 1800
    github_api.fail_next(
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        {"message": "API rate limit exceeded"},
    )
    with pytest.raises(RateLimited) as caught:
        await _gh(github_api, http).tags(ImageRef.parse("ghcr.io/org/app:prod"))
    assert caught.value.retry_after is not None and caught.value.retry_after > 1700


async def test_an_image_without_an_owner_is_refused(http: httpx.AsyncClient) -> None:
    with pytest.raises(UsageError, match="OWNER/PACKAGE"):
        await GitHubPackages(http, token="x").tags(ImageRef.parse("ghcr.io/app:prod"))
