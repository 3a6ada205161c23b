"""Delivery: destinations from settings, moves routed into the outbox, due alerts sent.

Every replica routes and delivers (event routing and outbox claims are exclusive), right after a
check queued alerts (`kick`) and at each delivery tick.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from tagwatch.app.metrics import Metrics
from tagwatch.app.routing import BATCH as ROUTING_BATCH
from tagwatch.app.routing import route_events
from tagwatch.app.settings import Settings
from tagwatch.app.tasks import Tasks
from tagwatch.core.routes import Route
from tagwatch.errors import TagwatchError
from tagwatch.notify import BotDestination, Destination, Pacer, WebhookDestination, deliver_due
from tagwatch.notify.json_hook import JsonHookDestination
from tagwatch.store import SlackThreads, Store

__all__ = ["PARKED_BEYOND", "Delivery", "build_destinations"]

log = logging.getLogger(__name__)
# Longer than any backoff (capped at 1 h) or in-flight mark: what waits longer is parked.
PARKED_BEYOND = timedelta(minutes=90)


def build_destinations(settings: Settings, *, store: Store | None = None) -> dict[str, Destination]:
    """Destinations by name: the generic webhooks (`hook:<name>`), and for Slack one per
    routed channel (bot token) or the one incoming webhook. Bot destinations keep their
    thread roots in `store` (in memory without one)."""
    hooks: dict[str, Destination] = {}
    for entry in settings.alert_webhooks:
        url, secret = entry.url(), entry.secret()
        if url and secret:
            hooks[entry.destination] = JsonHookDestination(
                entry.destination, url=url, secret=secret, timeout=entry.timeout
            )
    slack = settings.slack
    url = slack.webhook_url()
    if url:
        return hooks | {"webhook": WebhookDestination("webhook", url=url, timeout=slack.timeout)}
    token = slack.bot_token()
    if not token:
        return hooks
    channels = dict.fromkeys(r.destination for r in settings.routes() if r.destination not in hooks)
    roots = SlackThreads(store) if store is not None else None
    return hooks | {
        channel: BotDestination(
            channel,
            token=token,
            channel=channel,
            base_url=slack.base_url,
            timeout=slack.timeout,
            roots=roots,
        )
        for channel in channels
    }


class Delivery:
    """Routes recorded moves into the outbox and delivers what is due to `destinations`."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        destinations: Mapping[str, Destination],
        routes: Sequence[Route],
        metrics: Metrics,
        tasks: Tasks,
        worker: str,
        now: Callable[[], datetime],
        pacer: Pacer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.destinations = destinations
        self.routes = routes
        self.metrics = metrics
        self.tasks = tasks
        self.worker = worker
        self.now = now
        # One for the service's life: each batch starts where the last left a channel's pace.
        self.pacer = pacer or Pacer()
        self._kicked = asyncio.Event()

    def kick(self) -> None:
        """Deliver now (a check queued alerts), not at the next delivery tick."""
        self._kicked.set()

    async def deliver_when_kicked(self) -> None:
        """Deliver each time `kick()` is called, until the service stops (then kick once more)."""
        while not self.tasks.stopping:
            await self._kicked.wait()
            self._kicked.clear()
            if self.tasks.stopping:
                return
            await self.deliver()

    def wake_parked(self) -> None:
        """Alerts parked after a permanent Slack failure get one try now: a restart usually
        follows fixing the token or channel that refused them."""
        with self.store.begin() as tx:
            woken = tx.outbox.retry_parked(now=self.now(), parked_beyond=PARKED_BEYOND)
        if woken:
            log.info("retrying %d alert(s) parked after a permanent delivery failure", woken)

    def route(self) -> int:
        """Route pending move events into the outbox (any replica; each event once) and
        count them; returns how many alerts were queued."""
        sched = self.settings.scheduler
        queued = 0
        while True:
            report = route_events(
                self.store,
                routes=self.routes,
                watches=self.settings.watches,
                now=self.now(),
                max_age=timedelta(seconds=sched.event_max_age),
            )
            for move in report.moves:
                self.metrics.moves.labels(move.ref.registry, move.change.value).inc()
            self.metrics.expired_events.inc(report.expired)
            queued += report.queued
            if len(report.moves) < ROUTING_BATCH or self.tasks.stopping:
                return queued

    async def deliver(self) -> None:
        """Route recorded moves, then deliver due outbox items (any replica; claims are
        exclusive)."""
        if self.tasks.stopping or not self.destinations:
            return
        try:
            self.route()
            report = await deliver_due(
                self.store,
                destinations=self.destinations,
                now=self.now,
                worker=self.worker,
                lease_seconds=max(2, math.ceil(self.settings.scheduler.delivery_lease)),
                pacer=self.pacer,
            )
            self.metrics.delivered.inc(report.delivered)
            self.metrics.delivery_failures.inc(report.retrying + report.permanent)
            self.metrics.refused.inc(report.permanent)
            self.measure_outbox()
        except TagwatchError as exc:
            log.error("alert delivery failed: %s", exc)

    def measure_outbox(self) -> None:
        """Set the outbox depth and age gauges; raises TagwatchError when the store cannot say."""
        with self.store.begin() as tx:
            depth = tx.outbox.depth()
            oldest = tx.outbox.oldest_pending()
        self.metrics.outbox_depth.set(depth)
        age = 0.0 if oldest is None else (self.now() - oldest).total_seconds()
        self.metrics.outbox_age.set(max(0.0, age))
