"""The outbox worker against the real Store (SQLite and PostgreSQL) and the fake Slack."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from tagwatch.core.alerts import Alert
from tagwatch.core.moves import Change
from tagwatch.core.references import ImageRef
from tagwatch.notify.delivery import Delivered, Destination
from tagwatch.notify.slack import BotDestination, WebhookDestination
from tagwatch.notify.worker import PERMANENT_RETRY, DeliveryReport, Pacer, backoff, deliver_due
from tagwatch.store import Store
from tests.notify.factories import T0, move_alert, skew_alert
from tests.support.slack import VALID_TOKEN, FakeSlack


class Clock:
    """Wall time for the outbox (`now`), a monotonic clock for the pacer; sleep advances both."""

    def __init__(self) -> None:
        self.wall = T0
        self.mono = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def pacer(self) -> Pacer:
        return Pacer(clock=self.monotonic, sleep=self.sleep)


def enqueue(store: Store, alerts: Sequence[Alert], now: datetime) -> list[bool]:
    with store.begin() as tx:
        return [
            tx.outbox.enqueue(
                key=a.key, destination=a.destination, kind=a.kind.value, payload=a.payload, now=now
            )
            for a in alerts
        ]


def depth(store: Store) -> int:
    with store.begin() as tx:
        return tx.outbox.depth()


def alerts(count: int, destination: str = "alerts") -> list[Alert]:
    return [
        move_alert(ref=ImageRef.parse(f"ghcr.io/org/app{i}:prod"), destination=destination)
        for i in range(count)
    ]


async def run(
    store: Store, clock: Clock, destinations: dict[str, Destination], **kwargs: object
) -> DeliveryReport:
    return await deliver_due(
        store,
        destinations=destinations,
        now=clock.now,
        worker="w1",
        pacer=kwargs.pop("pacer", None) or clock.pacer(),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


async def test_due_alerts_are_delivered_once_and_leave_the_outbox(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    enqueue(store, [*alerts(2), skew_alert()], clock.now())
    report = await run(store, clock, {"alerts": bot})
    assert (report.claimed, report.delivered, report.errors) == (3, 3, [])
    assert depth(store) == 0
    again = await run(store, clock, {"alerts": bot})
    assert again.claimed == 0
    assert len(slack.posts) == 3


async def test_the_same_move_queued_twice_is_sent_once(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    alert = move_alert()
    assert enqueue(store, [alert], clock.now()) == [True]
    assert enqueue(store, [alert], clock.now()) == [False]
    await run(store, clock, {"alerts": bot})
    assert len(slack.posts) == 1


async def test_a_429_waits_for_retry_after_and_holds_the_channel(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    enqueue(store, alerts(2), clock.now())
    slack.script("chat.postMessage", "429:30")
    report = await run(store, clock, {"alerts": bot})
    assert report.retrying == 2 and report.delivered == 0
    assert slack.calls("chat.postMessage") == ["chat.postMessage"]  # the second was held back
    clock.advance(29)
    assert (await run(store, clock, {"alerts": bot})).claimed == 0
    clock.advance(2)
    report = await run(store, clock, {"alerts": bot})
    assert report.delivered == 2
    assert len(slack.posts) == 2 and depth(store) == 0


async def test_a_slack_outage_is_retried_with_backoff_until_it_ends(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    enqueue(store, alerts(1), clock.now())
    for _ in range(3):
        slack.script("chat.postMessage", "500", "500")  # the SDK retries once itself
        report = await run(store, clock, {"alerts": bot})
        assert report.retrying == 1 and depth(store) == 1
        clock.advance(backoff(10).total_seconds())
    report = await run(store, clock, {"alerts": bot})
    assert report.delivered == 1 and len(slack.posts) == 1 and depth(store) == 0


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in range(4)] == [5, 10, 20, 40]
    assert backoff(50) == timedelta(hours=1)


async def test_invalid_auth_is_kept_logged_and_retried_after_a_long_wait(
    store: Store, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    enqueue(store, alerts(2), clock.now())
    wrong = BotDestination(
        "alerts", token="xoxb-revoked", channel="C-ALERTS", base_url=slack.api_url
    )
    report = await run(store, clock, {"alerts": wrong})
    assert report.permanent == 2 and depth(store) == 2
    # The second alert was held back instead of being refused too.
    assert slack.calls("chat.postMessage") == ["chat.postMessage"]
    assert any(
        r.levelno == logging.ERROR and "invalid_auth" in r.getMessage() for r in caplog.records
    )
    clock.advance(PERMANENT_RETRY.total_seconds() - 60)
    assert (await run(store, clock, {"alerts": wrong})).claimed == 0
    clock.advance(61)
    fixed = BotDestination("alerts", token=VALID_TOKEN, channel="C-ALERTS", base_url=slack.api_url)
    report = await run(store, clock, {"alerts": fixed})
    assert report.delivered == 2 and depth(store) == 0


async def test_a_removed_webhook_keeps_the_alert(
    store: Store, slack: FakeSlack, hook: WebhookDestination
) -> None:
    clock = Clock()
    enqueue(store, alerts(1, destination="hook"), clock.now())
    slack.script("webhook", "404")
    report = await run(store, clock, {"hook": hook})
    assert report.permanent == 1 and depth(store) == 1 and "no_service" in report.errors[0]


async def test_an_alert_for_an_unconfigured_destination_is_kept(
    store: Store, slack: FakeSlack
) -> None:
    clock = Clock()
    enqueue(store, alerts(1, destination="gone"), clock.now())
    report = await run(store, clock, {})
    assert report.permanent == 1 and depth(store) == 1


async def test_a_hang_times_out_and_the_retry_posts_exactly_once(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    enqueue(store, alerts(1), clock.now())
    slack.script("chat.postMessage", "hang")
    report = await run(store, clock, {"alerts": bot})
    assert report.retrying == 1 and slack.posts == []
    clock.advance(120)
    report = await run(store, clock, {"alerts": bot})
    assert report.delivered == 1 and len(slack.posts) == 1
    # The retry looked for an earlier copy before posting.
    assert "conversations.history" in slack.calls()


class _Crash(BaseException):
    """The process dies: nothing after this runs."""


class CrashAfterSlackAccepts:
    """Posts for real, then 'dies' before the worker can mark the item delivered."""

    def __init__(self, inner: BotDestination) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def pace_key(self) -> str:
        return self.inner.pace_key

    def deliver(self, alert: Alert, *, resend: bool, now: datetime) -> Delivered:
        self.inner.deliver(alert, resend=resend, now=now)
        raise _Crash


async def test_a_crash_after_slack_accepted_does_not_repeat_the_message(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    enqueue(store, alerts(1), clock.now())
    with pytest.raises(_Crash):
        await run(store, clock, {"alerts": CrashAfterSlackAccepts(bot)})
    assert len(slack.posts) == 1 and depth(store) == 1
    clock.advance(119)
    assert (await run(store, clock, {"alerts": bot})).claimed == 0  # still leased
    clock.advance(2)
    restarted = BotDestination(
        "alerts", token=VALID_TOKEN, channel="C-ALERTS", base_url=slack.api_url, timeout=0.5
    )
    report = await run(store, clock, {"alerts": restarted})
    assert report.duplicates == 1 and report.delivered == 0
    assert len(slack.posts) == 1 and depth(store) == 0


async def test_a_crash_before_slack_saw_it_still_delivers_after_the_lease(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    enqueue(store, alerts(1), clock.now())

    class CrashBeforeSend(CrashAfterSlackAccepts):
        def deliver(self, alert: Alert, *, resend: bool, now: datetime) -> Delivered:
            raise _Crash

    with pytest.raises(_Crash):
        await run(store, clock, {"alerts": CrashBeforeSend(bot)})
    clock.advance(121)
    report = await run(store, clock, {"alerts": bot})
    assert report.delivered == 1 and len(slack.posts) == 1


async def test_one_message_a_second_per_channel(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    other = BotDestination("other", token=VALID_TOKEN, channel="C-OTHER", base_url=slack.api_url)
    enqueue(store, [*alerts(3), *alerts(2, destination="other")], clock.now())
    sent: dict[str, list[float]] = {}

    class Recording(Pacer):
        def sent(self, key: str) -> None:
            sent.setdefault(key, []).append(clock.monotonic())
            super().sent(key)

    pacer = Recording(clock=clock.monotonic, sleep=clock.sleep)
    start = clock.monotonic()
    report = await run(store, clock, {"alerts": bot, "other": other}, pacer=pacer)
    assert report.delivered == 5
    assert {k: len(v) for k, v in sent.items()} == {"channel:C-ALERTS": 3, "channel:C-OTHER": 2}
    for times in sent.values():
        assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(times))
    assert start <= min(min(v) for v in sent.values())


class Rendezvous:
    """A pacer clock whose sleeps end only once `sleepers` of them are waiting together; time
    then moves to the latest of their wake-ups. Channels paced side by side meet here; drained
    one after the other, the first sleeper would wait alone."""

    def __init__(self, sleepers: int) -> None:
        self.mono = 0.0
        self.sleeps: list[float] = []
        self._meeting = asyncio.Barrier(sleepers)

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        wake = self.mono + seconds
        try:
            # Only a worker that never runs the channels together gets here: 30 s is no speed
            # bound, just a failure with a reason instead of pytest's timeout.
            async with asyncio.timeout(30):
                await self._meeting.wait()
        except TimeoutError:
            pytest.fail("a channel's pacing wait never overlapped the other's")
        self.mono = max(self.mono, wake)


async def test_channels_are_paced_side_by_side(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    other = BotDestination("other", token=VALID_TOKEN, channel="C-OTHER", base_url=slack.api_url)
    enqueue(store, [*alerts(3), *alerts(3, destination="other")], T0)
    clock = Rendezvous(sleepers=2)
    report = await deliver_due(
        store,
        destinations={"alerts": bot, "other": other},
        now=lambda: T0,
        worker="w1",
        pacer=Pacer(interval=0.25, clock=clock.monotonic, sleep=clock.sleep),
    )
    assert report.delivered == 6
    # Each channel waits twice, each wait with the other's: 0.5 s in all, where one channel
    # after the other would take 1 s.
    assert clock.sleeps == [0.25] * 4
    assert clock.mono == 0.5
    assert [p.channel for p in slack.posts].count("C-OTHER") == 3


async def test_a_batch_stops_starting_items_when_half_its_lease_is_gone(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    enqueue(store, alerts(4), clock.now())
    pacer = Pacer(interval=20.0, clock=clock.monotonic, sleep=clock.sleep)
    report = await run(store, clock, {"alerts": bot}, pacer=pacer, lease_seconds=60)
    assert report.delivered == 2 and report.released == 2
    clock.advance(60)
    report = await run(store, clock, {"alerts": bot}, pacer=pacer)
    assert report.delivered == 2 and len(slack.posts) == 4


async def test_follow_up_moves_of_a_tag_thread_under_its_first_alert(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    first = move_alert()
    second = move_alert(Change.REPOINTED, minutes=10)
    enqueue(store, [first], clock.now())
    await run(store, clock, {"alerts": bot})
    clock.advance(1)
    enqueue(store, [second], clock.now())
    await run(store, clock, {"alerts": bot})
    posts = slack.posts
    assert posts[1].thread_ts == posts[0].ts


def test_two_workers_never_send_the_same_item(pg_database: str, slack: FakeSlack) -> None:
    from tests.store.databases import truncate_pg

    truncate_pg(pg_database)
    seed = Store.open(pg_database)
    try:
        enqueue(seed, alerts(40), T0)
    finally:
        seed.close()
    reports: list[DeliveryReport] = []

    def worker(name: str) -> None:
        store = Store.open(pg_database)
        dest = BotDestination(
            "alerts", token=VALID_TOKEN, channel="C-ALERTS", base_url=slack.api_url, threads=False
        )

        async def drain() -> None:
            while True:
                report = await deliver_due(
                    store,
                    destinations={"alerts": dest},
                    now=lambda: T0,
                    worker=name,
                    limit=3,
                    pacer=Pacer(interval=0),
                )
                reports.append(report)
                if report.claimed == 0:
                    return

        try:
            asyncio.run(drain())
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    keys = [post.metadata["event_payload"]["key"] for post in slack.posts if post.metadata]
    assert len(keys) == 40 and len(set(keys)) == 40
    assert sum(r.delivered for r in reports) == 40
    assert sum(1 for r in reports if r.claimed) >= 3  # the work was really shared


async def test_every_alert_arrives_exactly_once_through_a_storm_of_failures(
    store: Store, slack: FakeSlack, bot: BotDestination
) -> None:
    clock = Clock()
    queued = alerts(12)
    enqueue(store, queued, clock.now())
    slack.script(
        "chat.postMessage",
        "ok", "500", "500", "accept-hang", "429:40", "ok", "hang", "channel_not_found",
        "ok", "503", "503", "accept-hang", "ok", "500", "500", "ok",
    )  # fmt: skip
    reports = []
    for _ in range(40):
        if depth(store) == 0:
            break
        reports.append(await run(store, clock, {"alerts": bot}, limit=5))
        clock.advance(3600)
    assert depth(store) == 0
    # The two messages Slack took without answering were found, not posted again.
    assert sum(r.duplicates for r in reports) == 2
    assert sum(r.permanent for r in reports) >= 1
    keys = [p.metadata["event_payload"]["key"] for p in slack.posts if p.metadata]
    assert sorted(keys) == sorted(a.key for a in queued)
