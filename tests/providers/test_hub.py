"""Docker Hub's tag API client against a local server speaking Hub's JSON shapes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.errors import (
    AuthenticationFailed,
    RateLimited,
    RegistryError,
    RegistryUnavailable,
    UsageError,
)
from tagwatch.registry.providers.hub import HubAPI
from tests.support.hub_api import FakeHubAPI

PUSHED = datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC)
UPDATED = PUSHED + timedelta(minutes=4)
REF = ImageRef.parse("org/app:prod")


def _digest(n: int) -> Digest:
    return Digest.of(f"manifest {n}".encode())


def _hub(fake: FakeHubAPI, http: httpx.AsyncClient, **kwargs: object) -> HubAPI:
    return HubAPI(http, base_url=fake.url, retry_base=0.01, **kwargs)  # type: ignore[arg-type]


async def test_tag_last_pushed_is_a_certain_push_time(
    hub_api: FakeHubAPI, http: httpx.AsyncClient
) -> None:
    amd, arm = _digest(10), _digest(11)
    hub_api.add_tag(
        "org",
        "app",
        "prod",
        _digest(1),
        pushed=PUSHED,
        updated=UPDATED,
        platforms={"linux/amd64": amd, "linux/arm64/v8": arm},
    )
    (record,) = await _hub(hub_api, http).tags(REF)
    assert (record.tag, record.digest, record.pushed_at, record.certain) == (
        "prod",
        _digest(1),
        PUSHED,
        True,
    )
    assert record.platforms == {"linux/amd64": amd, "linux/arm64/v8": arm}
    assert hub_api.requests[0].path == "/v2/namespaces/org/repositories/app/tags"
    assert hub_api.requests[0].query["page_size"] == "100"


async def test_null_tag_last_pushed_falls_back_to_last_updated_as_uncertain(
    hub_api: FakeHubAPI, http: httpx.AsyncClient
) -> None:
    hub_api.add_tag("org", "app", "old", _digest(2), pushed=None, updated=UPDATED)
    hub_api.add_tag("org", "app", "never", _digest(3), pushed=None, updated=None)
    old, never = await _hub(hub_api, http).tags(REF)
    assert (old.pushed_at, old.certain) == (UPDATED, False)
    assert (never.pushed_at, never.certain) == (None, False)


async def test_old_single_platform_tag_takes_its_digest_from_the_image(
    hub_api: FakeHubAPI, http: httpx.AsyncClient
) -> None:
    hub_api.add_tag(
        "org",
        "app",
        "v0",
        None,
        pushed=PUSHED,
        updated=PUSHED,
        platforms={"linux/amd64": _digest(4)},
    )
    (record,) = await _hub(hub_api, http).tags(REF)
    assert record.digest == _digest(4)


async def test_every_page_is_followed_through_next(
    hub_api: FakeHubAPI, http: httpx.AsyncClient
) -> None:
    for n in range(250):
        hub_api.add_tag("library", "nginx", f"t{n}", _digest(n), pushed=PUSHED, updated=PUSHED)
    records = await _hub(hub_api, http).tags(ImageRef.parse("nginx:t0"))
    assert [r.tag for r in records] == [f"t{n}" for n in range(250)]
    assert [r.query.get("page", "1") for r in hub_api.requests] == ["1", "2", "3"]
    assert all(r.path == "/v2/namespaces/library/repositories/nginx/tags" for r in hub_api.requests)


async def test_429_with_an_epoch_retry_after_is_waited_for_then_retried(
    hub_api: FakeHubAPI, http: httpx.AsyncClient
) -> None:
    hub_api.add_tag("org", "app", "prod", _digest(1), pushed=PUSHED, updated=PUSHED)
    hub_api.fail_next(429, {"Retry-After": str(int(time.time()) + 20)}, {"message": "slow down"})
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    (record,) = await _hub(hub_api, http, sleep=sleep).tags(REF)
    assert record.tag == "prod"
    assert len(hub_api.requests) == 2
    # The epoch is read as a time 20 s away (less the moment since), not as seconds to wait
    # (which would be over max_wait and give up) nor as "now".
    [wait] = waits
    assert 15 < wait <= 20, wait


async def test_429_asking_for_a_long_wait_is_rate_limited_with_retry_after(
    hub_api: FakeHubAPI, http: httpx.AsyncClient
) -> None:
    hub_api.add_tag("org", "app", "prod", _digest(1), pushed=PUSHED, updated=PUSHED)
    hub_api.fail_next(429, {"Retry-After": str(int(time.time()) + 3600)})
    with pytest.raises(RateLimited, match="rate limited") as caught:
        await _hub(hub_api, http, max_wait=5.0).tags(REF)
    assert caught.value.retry_after is not None and 3500 < caught.value.retry_after <= 3600
    assert len(hub_api.requests) == 1


async def test_429_without_retry_after_gives_up_after_the_retries(
    hub_api: FakeHubAPI, http: httpx.AsyncClient
) -> None:
    for _ in range(3):
        hub_api.fail_next(429)
    with pytest.raises(RateLimited):
        await _hub(hub_api, http, max_retries=2).tags(REF)
    assert len(hub_api.requests) == 3


async def test_an_unknown_repository_is_a_not_found_error(
    hub_api: FakeHubAPI, http: httpx.AsyncClient
) -> None:
    with pytest.raises(RegistryError, match=r"docker\.io/org/app not found"):
        await _hub(hub_api, http).tags(REF)


async def test_401_is_authentication_failed(hub_api: FakeHubAPI, http: httpx.AsyncClient) -> None:
    hub_api.fail_next(401, body={"message": "authentication required"})
    with pytest.raises(AuthenticationFailed, match="401"):
        await _hub(hub_api, http).tags(REF)


async def test_5xx_is_retried_then_unavailable(
    hub_api: FakeHubAPI, http: httpx.AsyncClient
) -> None:
    for _ in range(2):
        hub_api.fail_next(503)
    with pytest.raises(RegistryUnavailable, match="503"):
        await _hub(hub_api, http, max_retries=1).tags(REF)


async def test_a_refused_connection_is_unavailable(http: httpx.AsyncClient) -> None:
    fake = FakeHubAPI()
    fake.close()  # nothing listens on its port any more
    with pytest.raises(RegistryUnavailable):
        await _hub(fake, http, max_retries=1).tags(REF)


async def test_a_next_link_to_another_host_is_not_followed(
    hub_api: FakeHubAPI, http: httpx.AsyncClient
) -> None:
    hub_api.fail_next(200, body={"count": 2, "next": "http://evil.example/v2/x", "results": []})
    with pytest.raises(RegistryError, match="another host"):
        await HubAPI(http, base_url=hub_api.url, token="hub-secret").tags(REF)
    assert len(hub_api.requests) == 1


async def test_a_repository_without_a_namespace_is_refused(http: httpx.AsyncClient) -> None:
    with pytest.raises(UsageError, match="NAMESPACE/NAME"):
        await HubAPI(http).tags(ImageRef.parse("registry.example.com/app:prod"))
