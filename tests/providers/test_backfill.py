"""run_backfill end to end: a fake vendor API paired with the real test registry and store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import boto3
import httpx
import pytest

from tagwatch.app.backfill import BackfillResult, BackfillStatus, run_backfill
from tagwatch.app.check import run_check
from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, Source, TagHistory
from tagwatch.core.references import ImageRef
from tagwatch.registry import RegistryClient
from tagwatch.registry.providers.ecr_api import EcrImages
from tagwatch.registry.providers.github import GitHubPackages
from tagwatch.registry.providers.hub import HubAPI
from tagwatch.registry.providers.records import TagProvider
from tagwatch.store import Store
from tests.support.github_api import FakeGitHubAPI
from tests.support.hub_api import FakeHubAPI
from tests.support.registry import TestRegistry

PUSHED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
async def client() -> AsyncIterator[RegistryClient]:
    async with RegistryClient(max_retries=1) as registry:
        yield registry


def _ns(repo_name: str) -> tuple[str, str]:
    namespace, _, name = repo_name.partition("/")
    return namespace, name


class HubListed:
    """The test's repository in the test registry, listed by a fake Docker Hub API: `push` to
    the registry, `list_tag` it in Hub's answers, `backfill` refs through Hub into the store."""

    def __init__(
        self,
        registry: TestRegistry,
        repo_name: str,
        hub_api: FakeHubAPI,
        http: httpx.AsyncClient,
        client: RegistryClient,
        store: Store,
    ) -> None:
        self.registry, self.repo_name, self.api = registry, repo_name, hub_api
        self.client, self.store = client, store
        self.providers: dict[str, TagProvider] = {registry.host: HubAPI(http, base_url=hub_api.url)}

    def ref(self, tag: str = "prod") -> ImageRef:
        return ImageRef.parse(f"{self.registry.host}/{self.repo_name}:{tag}")

    def push(self, content: str, tag: str = "prod") -> Digest:
        return self.registry.push_image(self.repo_name, tag, content=content)

    def list_tag(
        self,
        digest: Digest,
        *,
        tag: str = "prod",
        pushed: datetime | None = PUSHED,
        updated: datetime | None = PUSHED,
    ) -> None:
        self.api.add_tag(*_ns(self.repo_name), tag, digest, pushed=pushed, updated=updated)

    async def backfill(self, *refs: ImageRef) -> list[BackfillResult]:
        return await run_backfill(
            refs, providers=self.providers.get, registry=self.client, store=self.store
        )

    def history(self, ref: ImageRef) -> TagHistory:
        with self.store.begin() as tx:
            return tx.history(ref)


@pytest.fixture
def hub(
    registry: TestRegistry,
    repo_name: str,
    hub_api: FakeHubAPI,
    http: httpx.AsyncClient,
    client: RegistryClient,
    store: Store,
) -> HubListed:
    return HubListed(registry, repo_name, hub_api, http, client, store)


async def test_backfilled_tag_answers_what_it_pointed_to_before_the_first_poll(
    hub: HubListed, client: RegistryClient, store: Store
) -> None:
    digest = hub.push("v1")
    hub.list_tag(digest)
    ref = hub.ref()

    (result,) = await hub.backfill(ref)

    assert result.status is BackfillStatus.BACKFILLED, result.message
    assert (result.digest, result.since, result.certain) == (digest, PUSHED, True)
    history = hub.history(ref)
    (sighting,) = history.sightings
    assert (sighting.digest, sighting.first_seen, sighting.source) == (
        digest,
        PUSHED,
        Source.BACKFILL,
    )
    pod_started = PUSHED + timedelta(days=2)  # long before tagwatch's first poll
    assert [s.digest for s in history.at(pod_started)] == [digest]
    assert history.at(PUSHED - timedelta(minutes=1)) == ()

    # The first poll continues the backfilled sighting: no move, no new row.
    (checked,) = await run_check([ref], registry=client, store=store)
    assert checked.move is not None and checked.move.change is Change.UNCHANGED
    (after,) = hub.history(ref).sightings
    assert after.first_seen == PUSHED and after.last_seen >= sighting.last_seen


async def test_a_tag_with_history_is_never_rewritten(
    hub: HubListed, client: RegistryClient, store: Store
) -> None:
    digest = hub.push("v1")
    hub.list_tag(digest)
    ref = hub.ref()
    await run_check([ref], registry=client, store=store)
    before = hub.history(ref)

    (result,) = await hub.backfill(ref)

    assert result.status is BackfillStatus.ALREADY_RECORDED
    assert result.message.startswith("already recorded since ")
    assert result.since == before.sightings[0].first_seen
    assert hub.history(ref) == before
    assert hub.api.requests == []  # nothing to ask the vendor


async def test_a_vendor_digest_the_registry_no_longer_has_records_nothing(hub: HubListed) -> None:
    stale = hub.push("v1")
    current = hub.push("v2")  # the API lags behind
    hub.list_tag(stale)

    (result,) = await hub.backfill(hub.ref())

    assert result.status is BackfillStatus.MISMATCH
    assert (result.digest, result.registry_digest) == (stale, current)
    assert "nothing recorded" in result.message
    assert hub.history(hub.ref()).sightings == ()


async def test_an_approximate_push_time_is_recorded_and_marked_uncertain(hub: HubListed) -> None:
    hub.list_tag(hub.push("v1"), pushed=None, updated=PUSHED)
    (result,) = await hub.backfill(hub.ref())
    assert result.status is BackfillStatus.BACKFILLED
    assert (result.since, result.certain) == (PUSHED, False)
    assert "approximately" in result.message


async def test_unlisted_tags_and_hosts_without_a_vendor_api_record_nothing(
    hub: HubListed, repo_name: str, store: Store
) -> None:
    hub.push("v1", tag="other")
    hub.list_tag(Digest.of(b"x"))
    listed = hub.ref("other")
    elsewhere = ImageRef.parse(f"quay.io/{repo_name}:prod")

    unlisted, no_api = await hub.backfill(listed, elsewhere)

    assert unlisted.status is BackfillStatus.NOT_LISTED
    assert no_api.status is BackfillStatus.NO_VENDOR_API
    assert no_api.message == "no vendor API for quay.io; history starts at the first poll"
    with store.begin() as tx:
        assert all(not h.sightings for h in tx.histories([listed, elsewhere]).values())


async def test_a_failing_vendor_api_is_an_error_for_its_tags_only(
    registry: TestRegistry,
    repo_name: str,
    hub_api: FakeHubAPI,
    github_api: FakeGitHubAPI,
    http: httpx.AsyncClient,
    client: RegistryClient,
    store: Store,
) -> None:
    """One registry host lists through GitHub's API (fine), the other through a Hub that 401s."""
    digest = registry.push_image(repo_name, "prod", content="v1")
    owner, package = _ns(repo_name)
    github_api.add_version(owner, package, digest, tags=["prod"], created=PUSHED)
    hub_api.fail_next(401)
    ok = ImageRef.parse(f"{registry.host}/{repo_name}:prod")
    failing = ImageRef.parse(f"localhost:1/{repo_name}:prod")
    providers: dict[str, TagProvider] = {
        registry.host: GitHubPackages(http, token=github_api.token, base_url=github_api.url),
        "localhost:1": HubAPI(http, base_url=hub_api.url, max_retries=0),
    }

    good, bad = await run_backfill(
        [ok, failing], providers=providers.get, registry=client, store=store
    )

    assert good.status is BackfillStatus.BACKFILLED and good.since == PUSHED
    assert bad.status is BackfillStatus.ERROR and "401" in bad.message


async def test_ecr_push_time_from_moto_backfills_the_test_registry_tag(
    aws: str,
    registry: TestRegistry,
    repo_name: str,
    client: RegistryClient,
    store: Store,
) -> None:
    """moto plays ECR's API; the test registry holds the same manifest under the same tag."""
    digest = registry.push_image(repo_name, "prod", content="v1")
    body, media_type = registry.get_manifest(repo_name, "prod")
    ecr = boto3.client("ecr", region_name="eu-west-1")
    ecr.create_repository(repositoryName=repo_name)
    ecr.put_image(
        repositoryName=repo_name,
        imageManifest=body.decode(),
        imageManifestMediaType=media_type,
        imageTag="prod",
        imageDigest=str(digest),
    )
    assert json.loads(body)["layers"]
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:prod")
    providers: dict[str, TagProvider] = {
        registry.host: EcrImages(region="eu-west-1", registry_id="123456789012")
    }
    started = datetime.now(UTC) - timedelta(seconds=5)

    (result,) = await run_backfill([ref], providers=providers.get, registry=client, store=store)

    assert result.status is BackfillStatus.BACKFILLED, result.message
    assert result.digest == digest and result.certain
    assert result.since is not None and result.since >= started
