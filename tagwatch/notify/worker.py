"""The outbox worker: claim due alerts, deliver each to its Slack destination, record the outcome.

Never lost: an alert leaves the outbox only when Slack accepted it (`mark_delivered`); every
failure is recorded with a retry time (Retry-After when Slack gave one, exponential backoff
otherwise; a permanent failure waits `PERMANENT_RETRY` and is logged as an error), and a
worker that dies mid-batch loses only its lease.

Never doubled: the outbox key is unique per move and destination, claims are exclusive
(`FOR UPDATE SKIP LOCKED` on PostgreSQL), and before each send the item is marked "delivery
started" (one short transaction that counts an attempt and re-leases the item). An item
that shows an earlier attempt may have reached Slack, so a bot destination first looks for
its key in the channel (messages carry it in `metadata`) and posts only when it is not
there. What remains: a crash (or lost answer) between Slack's OK and `mark_delivered`
repeats the message on an incoming webhook (it cannot be looked up), and on a bot
destination when the earlier copy has scrolled out of the last `history_limit` messages or
the token lacks the history scope; slack_sdk's ServerErrorRetryHandler re-posts after a
500/503, which would repeat a message only if Slack had taken it before failing. Pacing is
per process: replicas sharing a channel are not paced against each other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from tagwatch.core.alerts import Alert, AlertKind
from tagwatch.errors import TagwatchError
from tagwatch.notify.delivery import Delivered, DeliveryError, Destination

__all__ = [
    "PERMANENT_RETRY",
    "DeliveryReport",
    "Pacer",
    "backoff",
    "deliver_due",
]

log = logging.getLogger(__name__)

#: How long a permanently failing alert waits before it is tried again (it is never dropped).
PERMANENT_RETRY = timedelta(hours=6)
BACKOFF_BASE = 5.0
BACKOFF_CAP = 3600.0


class _Item(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...
    @property
    def attempts(self) -> int: ...


class _OutboxOps(Protocol):
    def claim_due(
        self, *, now: datetime, worker: str, limit: int = ..., lease_seconds: int = ...
    ) -> list[Any]: ...
    def mark_delivered(self, item_id: int, *, now: datetime) -> None: ...
    def mark_failed(self, item_id: int, *, error: str, retry_at: datetime) -> None: ...


class _OutboxTx(Protocol):
    @property
    def outbox(self) -> _OutboxOps: ...


class _Outbox(Protocol):
    def begin(self) -> AbstractContextManager[Any]: ...


@dataclass
class DeliveryReport:
    """What one `deliver_due` run did."""

    claimed: int = 0
    delivered: int = 0
    duplicates: int = 0  # found already in Slack after an uncertain earlier attempt
    retrying: int = 0  # failed, will be retried (including deferred behind a failing one)
    permanent: int = 0  # refused for good until the configuration changes; retried rarely
    released: int = 0  # not attempted: the batch ran out of lease time
    errors: list[str] = field(default_factory=list)


class Pacer:
    """About one message a second per Slack channel (`Destination.pace_key`).

    Keep one Pacer for the life of the service so the pace holds across batches; tests pass
    a fake `clock` and `sleep`.
    """

    def __init__(
        self,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._last: dict[str, float] = {}

    async def wait(self, key: str) -> None:
        last = self._last.get(key)
        if last is not None:
            delay = last + self.interval - self._clock()
            if delay > 0:
                await self._sleep(delay)

    def sent(self, key: str) -> None:
        self._last[key] = self._clock()


def backoff(attempts: int) -> timedelta:
    """The wait after a failure, given the attempts recorded before it: 5 s, doubling, at
    most an hour."""
    return timedelta(seconds=min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(max(attempts, 0), 20)))


def _alert(item: _Item) -> Alert:
    return Alert(
        key=item.key,
        destination=item.destination,
        kind=AlertKind(item.kind),
        payload=item.payload,
    )


@dataclass
class _Batch:
    store: _Outbox
    destinations: Mapping[str, Destination]
    now: Callable[[], datetime]
    worker: str
    pacer: Pacer
    report: DeliveryReport
    blocked: dict[str, tuple[datetime, str, bool]] = field(default_factory=dict)

    def tx(self) -> AbstractContextManager[_OutboxTx]:
        return self.store.begin()

    def _record(self, action: Callable[[_OutboxTx], None], item: _Item) -> bool:
        try:
            with self.tx() as tx:
                action(tx)
        except TagwatchError as exc:
            # The lease runs out and the item is claimed again: it is not lost.
            log.error("could not record the outcome of outbox item %s: %s", item.key, exc)
            self.report.errors.append(f"{item.key}: store: {exc}")
            return False
        return True

    def fail(self, item: _Item, error: str, retry_at: datetime, *, permanent: bool) -> None:
        if permanent:
            self.report.permanent += 1
        else:
            self.report.retrying += 1
        self.report.errors.append(f"{item.key}: {error}")
        self._record(
            lambda tx: tx.outbox.mark_failed(item.id, error=error, retry_at=retry_at), item
        )

    async def deliver(self, item: _Item, lease: timedelta, claimed_at: datetime) -> bool:
        """Deliver one item; False when the batch's lease is too far gone to start it."""
        now = self.now()
        destination = self.destinations.get(item.destination)
        if destination is None:
            message = f"no Slack destination named {item.destination!r} is configured"
            log.error("alert %s cannot be delivered: %s", item.key, message)
            self.fail(item, message, now + PERMANENT_RETRY, permanent=True)
            return True
        try:
            alert = _alert(item)
        except ValueError as exc:
            log.error("outbox item %s has an unknown kind %r", item.key, item.kind)
            self.fail(item, f"unknown alert kind: {exc}", now + PERMANENT_RETRY, permanent=True)
            return True
        blocked = self.blocked.get(destination.pace_key)
        if blocked is not None:
            until, why, permanent = blocked
            self.fail(item, f"deferred: {why}", until, permanent=permanent)
            return True
        await self.pacer.wait(destination.pace_key)
        if self.now() - claimed_at > lease / 2:
            # Another worker may claim it once the lease ends: leave it (and the rest) alone.
            return False
        resend = item.attempts > 0
        # Write-ahead: count the attempt and re-lease the item (for two leases, room for
        # timeouts and the SDK's own retries) before Slack can see it, so that whoever sends
        # it next knows it may already be there.
        started = self.now()
        if not self._record(
            lambda tx: tx.outbox.mark_failed(
                item.id,
                error=f"delivery started by {self.worker} at {started.isoformat()}; not confirmed",
                retry_at=started + 2 * lease,
            ),
            item,
        ):
            return True
        try:
            result: Delivered = await asyncio.to_thread(
                destination.deliver, alert, resend=resend, now=started
            )
        except DeliveryError as exc:
            self._failed(item, destination, exc)
            return True
        except Exception as exc:  # a bug: keep the alert, retry later, say so loudly
            log.exception("unexpected error delivering %s to %s", item.key, item.destination)
            self.fail(
                item,
                f"unexpected error: {type(exc).__name__}: {exc}",
                self.now() + backoff(item.attempts),
                permanent=False,
            )
            return True
        finally:
            self.pacer.sent(destination.pace_key)
        if self._record(lambda tx: tx.outbox.mark_delivered(item.id, now=self.now()), item):
            if result.duplicate:
                self.report.duplicates += 1
            else:
                self.report.delivered += 1
        return True

    def _failed(self, item: _Item, destination: Destination, exc: DeliveryError) -> None:
        now = self.now()
        if exc.permanent:
            log.error(
                "alert %s to %s refused permanently, retrying in %s: %s",
                item.key,
                item.destination,
                PERMANENT_RETRY,
                exc,
            )
            retry_at = now + PERMANENT_RETRY
            # The same configuration problem would refuse the rest of the batch too.
            self.blocked[destination.pace_key] = (retry_at, str(exc), True)
            self.fail(item, str(exc), retry_at, permanent=True)
            return
        if exc.retry_after is not None:
            retry_at = now + timedelta(seconds=max(exc.retry_after, 1.0))
        else:
            retry_at = now + backoff(item.attempts)
        log.warning(
            "alert %s to %s failed, retrying at %s: %s",
            item.key,
            item.destination,
            retry_at.isoformat(),
            exc,
        )
        # The destination is struggling: hold the rest of this batch for it until then.
        self.blocked[destination.pace_key] = (retry_at, str(exc), False)
        self.fail(item, str(exc), retry_at, permanent=False)


async def deliver_due(
    store: _Outbox,
    *,
    destinations: Mapping[str, Destination],
    now: Callable[[], datetime],
    worker: str,
    limit: int = 20,
    lease_seconds: int = 60,
    pacer: Pacer | None = None,
) -> DeliveryReport:
    """Claim up to `limit` due outbox items for `worker` and deliver them, oldest first.

    Items for one channel go about one a second (`pacer`); a destination that fails is not
    tried again in this batch. Stops starting new items once half the lease is used, so an
    item is never sent after another worker may have claimed it.
    """
    report = DeliveryReport()
    lease = timedelta(seconds=lease_seconds)
    claimed_at = now()
    with store.begin() as tx:
        claimed = list(
            tx.outbox.claim_due(
                now=claimed_at, worker=worker, limit=limit, lease_seconds=lease_seconds
            )
        )
    report.claimed = len(claimed)
    batch = _Batch(store, destinations, now, worker, pacer or Pacer(), report)
    # One queue per channel, run side by side: a slow or paced channel does not hold others.
    queues: dict[str, list[_Item]] = {}
    for item in claimed:
        target = destinations.get(item.destination)
        queues.setdefault(target.pace_key if target else "", []).append(item)

    async def drain(queue: list[_Item]) -> None:
        for index, item in enumerate(queue):
            if not await batch.deliver(item, lease, claimed_at):
                report.released += len(queue) - index
                log.info(
                    "outbox batch ran out of lease time; %d items left for the next run",
                    len(queue) - index,
                )
                return

    await asyncio.gather(*(drain(queue) for queue in queues.values()))
    return report
