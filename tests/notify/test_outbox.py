"""Alerts are queued in the move's transaction, and a pushed tag reaches Slack exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tagwatch.app.check import run_check
from tagwatch.core.moves import Change, Observation
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import Route
from tagwatch.notify.outbox import alert_on_move, enqueue_skew
from tagwatch.notify.slack import BotDestination
from tagwatch.notify.worker import Pacer, deliver_due
from tagwatch.registry import RegistryClient
from tagwatch.store import Store
from tests.notify.factories import REF, T0, A, B, build, move, skew_finding
from tests.support.registry import TestRegistry
from tests.support.slack import FakeSlack

ROUTES = [Route("alerts", changes=frozenset(Change))]


def _depth(store: Store) -> int:
    with store.begin() as tx:
        return tx.outbox.depth()


def test_a_move_and_its_alert_commit_together(store: Store) -> None:
    hook = alert_on_move(routes=ROUTES, labels_of=lambda ref: {"team": "pay"})
    with store.begin() as tx:
        tx.record(
            Observation(REF, A, T0, build=build("111")), move(Change.FIRST_SEEN, old=None, new=A)
        )
    moved = move(old=A, new=B)
    with store.begin() as tx:
        tx.record(Observation(REF, B, moved.detected_at, build=build("222")), moved)
        hook(tx, moved, build("222"))
    with store.begin() as tx:
        [item] = tx.outbox.claim_due(now=T0 + timedelta(hours=1), worker="t")
    # The build before the move was read from the store, in the same transaction.
    assert item.payload["before"]["revision"] == "111"
    assert item.payload["after"]["revision"] == "222"
    assert item.payload["labels"] == {"team": "pay"}


def test_a_rolled_back_move_leaves_no_alert_behind(store: Store) -> None:
    hook = alert_on_move(routes=ROUTES, labels_of=lambda ref: {})
    with pytest.raises(RuntimeError), store.begin() as tx:
        hook(tx, move(), None)
        raise RuntimeError("the transaction fails after the hook")
    assert _depth(store) == 0


def test_the_same_move_seen_twice_queues_one_alert(store: Store) -> None:
    hook = alert_on_move(routes=ROUTES, labels_of=lambda ref: {})
    for _ in range(2):
        with store.begin() as tx:
            hook(tx, move(), None)
    assert _depth(store) == 1


def test_a_skew_seen_by_every_scan_alerts_once_until_its_digests_change(store: Store) -> None:
    for digests in (2, 2, 2, 3):
        with store.begin() as tx:
            enqueue_skew(
                tx,
                skew_finding(digests=digests),
                cluster="c",
                builds={},
                routes=ROUTES,
                labels={},
                now=T0,
            )
    assert _depth(store) == 2
    with store.begin() as tx:
        assert (
            enqueue_skew(
                tx,
                skew_finding(skewed=False),
                cluster="c",
                builds={},
                routes=ROUTES,
                labels={},
                now=T0,
            )
            == 0
        )


async def test_a_re_push_reaches_slack_exactly_once(
    registry: TestRegistry, repo_name: str, store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:prod")
    labels = {"org.opencontainers.image.revision": "aaa111"}
    registry.push_image(repo_name, "prod", content="one", labels=labels)
    hook = alert_on_move(routes=[Route("alerts")], labels_of=lambda r: {})
    pacer = Pacer(interval=0)
    async with RegistryClient(max_retries=1, retry_base=0.01) as client:
        first = await run_check([ref], registry=client, store=store, on_move=hook)
        assert first[0].change == "first_seen"
        new = registry.push_image(
            repo_name, "prod", content="two", labels={"org.opencontainers.image.revision": "bbb222"}
        )
        for _ in range(3):  # checks after the move see it unchanged: still one alert
            await run_check([ref], registry=client, store=store, on_move=hook)
    for _ in range(2):
        await deliver_due(
            store,
            destinations={"alerts": bot},
            now=lambda: T0 + timedelta(days=3650),
            worker="w",
            pacer=pacer,
        )
    [post] = slack.posts
    assert post.blocks[0]["text"]["text"].endswith("was re-pushed")
    body = str(post.blocks)
    assert str(new) in body and "revision `aaa111`" in body and "revision `bbb222`" in body
    assert _depth(store) == 0
