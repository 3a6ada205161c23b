"""Resolving and describing: observe timing, shared digests, settings keys, quiet HEADs, paging."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from tagwatch.core.digests import OCI_MANIFEST
from tagwatch.core.references import ImageRef
from tagwatch.registry import RegistryClient, RegistrySettings
from tests.support.fake_registry import DIGEST, MANIFEST, REF, ref_of
from tests.support.registry import TestRegistry

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
    async with http, RegistryClient(http=http) as client:
        for _ in range(3):
            await client.resolve(REF)
        digests = await asyncio.gather(*(client.resolve(REF) for _ in range(997)))
    assert set(digests) == {DIGEST}
    assert len(requests) == 1000 + 3 + 10  # 3 learning HEADs, plus a re-probe every 100
    assert [r.method for r in requests].count("HEAD") == 3 + 10


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
