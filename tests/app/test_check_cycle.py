"""The check cycle: concurrent, ordered, one alert per move however many checks race."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from tagwatch.app.check import run_check
from tagwatch.core.alerts import Alert, alerts_for_move
from tagwatch.core.moves import BuildInfo, Change, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import Route
from tagwatch.errors import ProtocolError
from tagwatch.registry import RegistryClient
from tagwatch.store import Store, StoreTx
from tests.support.fake_registry import HOST, REF, redirected_to_json
from tests.support.registry import TestRegistry


async def test_results_come_back_in_the_order_asked(
    registry: TestRegistry, repo_name: str, store: Store
) -> None:
    tags = ["zeta", "alpha", "mid"]
    for tag in tags:
        registry.push_image(repo_name, tag, content=tag)
    refs = [ImageRef.parse(f"{registry.host}/{repo_name}:{t}") for t in tags]
    async with RegistryClient() as client:
        results = await run_check(refs, registry=client, store=store)
    assert [r.ref for r in results] == refs
    assert {r.change for r in results} == {"first_seen"}


async def test_two_checks_racing_on_one_repush_alert_once(
    registry: TestRegistry, repo_name: str, store: Store
) -> None:
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:prod")
    registry.push_image(repo_name, "prod", content="one")
    alerted: list[TagMove] = []

    def on_move(tx: StoreTx, move: TagMove, build: BuildInfo | None) -> None:
        alerted.append(move)

    async with RegistryClient() as client:
        await run_check([ref], registry=client, store=store, on_move=on_move)
        registry.push_image(repo_name, "prod", content="two")
        alerted.clear()
        first, second = await asyncio.gather(
            run_check([ref], registry=client, store=store, on_move=on_move),
            run_check([ref], registry=client, store=store, on_move=on_move),
        )
    # Both saw the re-push against the same history; only the one that recorded it alerts.
    assert first[0].change == second[0].change == Change.MOVED.value
    assert [m.change for m in alerted] == [Change.MOVED]
    with store.begin() as tx:
        assert [m.change for m in tx.moves(ref)] == [Change.FIRST_SEEN, Change.MOVED]


async def test_unchanged_tags_advance_last_seen_in_one_batch(
    registry: TestRegistry, repo_name: str, store: Store
) -> None:
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:steady")
    registry.push_image(repo_name, "steady", content="s")
    times = iter([datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)])
    async with RegistryClient() as client:
        await run_check([ref], registry=client, store=store, now=lambda: next(times))
        await run_check([ref], registry=client, store=store, now=lambda: next(times))
    with store.begin() as tx:
        [sighting] = tx.history(ref).sightings
    assert sighting.first_seen == datetime(2026, 11, 1, tzinfo=UTC)
    assert sighting.last_seen == datetime(2026, 11, 2, tzinfo=UTC)


async def test_a_json_answer_that_is_not_a_manifest_is_an_error_and_never_recorded(
    store: Store,
) -> None:
    http = httpx.AsyncClient(transport=redirected_to_json())
    async with http, RegistryClient(http=http, max_retries=0) as client:
        [result] = await run_check([REF], registry=client, store=store)
    assert isinstance(result.error, ProtocolError) and result.error.registry == HOST
    assert result.move is None
    with store.begin() as tx:
        assert tx.histories([REF])[REF].sightings == ()


async def test_a_multi_arch_move_alerts_with_both_builds_revision_from_platform_configs(
    registry: TestRegistry, repo_name: str, store: Store
) -> None:
    def push(revision: str) -> None:
        labels = {
            "org.opencontainers.image.revision": revision,
            "org.opencontainers.image.source": "https://github.com/example/app",
        }
        platforms = {"linux/amd64": f"amd-{revision}", "linux/arm64": f"arm-{revision}"}
        registry.push_index(repo_name, "prod", platforms, labels=labels)

    ref = ImageRef.parse(f"{registry.host}/{repo_name}:prod")
    alerts: list[Alert] = []

    def on_move(tx: StoreTx, move: TagMove, after: BuildInfo | None) -> None:
        if move.change is Change.FIRST_SEEN:
            return
        before = tx.builds([move.from_digest]).get(move.from_digest) if move.from_digest else None
        route = Route(destination="C-ALERTS")
        alerts.extend(alerts_for_move(move, before=before, after=after, routes=[route], labels={}))

    push("aaa111")
    async with RegistryClient() as client:
        await run_check([ref], registry=client, store=store, on_move=on_move)
        push("bbb222")
        [result] = await run_check([ref], registry=client, store=store, on_move=on_move)
    assert result.change == "moved" and result.build is not None
    assert result.build.revision == "bbb222"
    [alert] = alerts
    assert alert.payload["before"]["revision"] == "aaa111"
    assert alert.payload["after"]["revision"] == "bbb222"
    assert alert.payload["after"]["source"] == "https://github.com/example/app"
