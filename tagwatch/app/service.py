"""The long-running service: wires polling, webhook checks, delivery and cluster scans.

The parts live in their own modules: `polling` (the watch plan and per-registry budgets),
`webhook_checks`, `delivery` (routing and the outbox), `cluster_scans`, `health`; `Service`
owns their lifetime, the leases that say which replica polls and scans, and the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from tagwatch.app import health
from tagwatch.app.check import Checker, CheckResult
from tagwatch.app.cluster_scans import scan_and_record
from tagwatch.app.context import judge_for
from tagwatch.app.delivery import Delivery, build_destinations
from tagwatch.app.metrics import Metrics
from tagwatch.app.polling import Poller
from tagwatch.app.scheduler import Job, WatchPlan, build_scheduler
from tagwatch.app.settings import ClusterEntry, Settings
from tagwatch.app.tasks import Tasks
from tagwatch.app.webhook_checks import WebhookChecks
from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.core.times import utcnow
from tagwatch.errors import TagwatchError
from tagwatch.notify import Destination
from tagwatch.registry import RegistryClient
from tagwatch.store import Store

__all__ = ["Service", "build_service"]

log = logging.getLogger(__name__)

POLL_LEASE = "poll"


class Service:
    """Everything `tagwatch run` does besides HTTP; `start()` / `stop()` around its lifetime.

    Polling is done by the replica holding the `poll` lease in the database (renewed every
    `lease_ttl / 3`; another replica takes over within `lease_ttl` when the holder dies), so
    replicas never poll a tag twice. Every replica delivers alerts (outbox claims are exclusive)
    and answers webhooks. Cluster scans use one lease per cluster the same way.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store,
        registry: RegistryClient,
        destinations: Mapping[str, Destination] | None = None,
        holder: str | None = None,
        now: Callable[[], datetime] = utcnow,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.destinations = dict(destinations or {})
        self.holder = holder or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.now = now
        self.clock = clock
        self.metrics = Metrics()
        self.tasks = Tasks()
        self.leader = False
        self.cluster_leases: dict[str, bool] = {}
        self.last_tick: float | None = None
        self.started = False
        self.routes = settings.routes()
        self.delivery = Delivery(
            settings,
            store=store,
            destinations=self.destinations,
            routes=self.routes,
            metrics=self.metrics,
            tasks=self.tasks,
            worker=self.holder,
            now=now,
        )
        checker = Checker(registry, store, now, judge_for(settings.signing))
        self.poller = Poller(
            settings,
            checker=checker,
            metrics=self.metrics,
            tasks=self.tasks,
            clock=clock,
            count_moves=not self.destinations,
            on_move=self.delivery.kick,
        )
        self.webhook_checks = WebhookChecks(
            checker=checker,
            metrics=self.metrics,
            tasks=self.tasks,
            covers=self.poller.covers,
            account=self.poller.account,
            on_move=self.delivery.kick,
        )
        sched = settings.scheduler
        jobs = [
            Job("leases", max(sched.lease_ttl / 3, 0.2), self.renew_leases),
            Job("expand", sched.expand_interval, self.expand),
            Job("tick", sched.tick, self.tick),
        ]
        if self.destinations:
            jobs.append(Job("deliver", sched.delivery_interval, self.deliver))
        jobs += [Job(f"scan:{c.name}", c.interval, self._scan_job(c)) for c in settings.clusters]
        self.scheduler = build_scheduler(jobs, misfire_grace_time=sched.misfire_grace_time)

    @property
    def plan(self) -> WatchPlan:
        """The watches this replica polls while it holds the poll lease."""
        return self.poller.plan

    @property
    def last_cycle(self) -> float | None:
        """When (on `clock`) a poll batch last finished."""
        return self.poller.last_cycle

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Take leases, expand watches and start the scheduler (call inside the event loop)."""
        await self.renew_leases()
        if self.destinations:
            self.delivery.wake_parked()
        await self.expand()
        self.scheduler.start()
        await self.tick()
        if self.destinations:
            self.tasks.spawn(self.delivery.deliver_when_kicked())
        self.started = True
        log.info("tagwatch service %s started (leader=%s)", self.holder, self.leader)

    async def stop(self, grace: float = 20.0) -> None:
        """Stop scheduling, let in-flight checks and deliveries finish, release the leases."""
        if self.tasks.stopping:
            return
        self.tasks.stop()
        self.delivery.kick()  # wakes the delivery loop, which then returns
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.tasks.drain(grace)
        with contextlib.suppress(TagwatchError), self.store.begin() as tx:
            tx.leases.release(POLL_LEASE, holder=self.holder)
            for cluster in self.settings.clusters:
                tx.leases.release(f"scan:{cluster.name}", holder=self.holder)
        self.leader = False
        self.started = False
        log.info("tagwatch service %s stopped", self.holder)

    # -- leases ------------------------------------------------------------------------

    def _lease(self, name: str) -> bool:
        ttl = max(1, math.ceil(self.settings.scheduler.lease_ttl))
        with self.store.begin() as tx:
            return tx.leases.acquire(name, holder=self.holder, now=self.now(), ttl_seconds=ttl)

    async def renew_leases(self) -> None:
        if self.tasks.stopping:
            return
        try:
            was = self.leader
            self.leader = self._lease(POLL_LEASE)
            for cluster in self.settings.clusters:
                self.cluster_leases[cluster.name] = self._lease(f"scan:{cluster.name}")
        except TagwatchError as exc:
            log.error("cannot renew leases: %s", exc)
            self.leader = False
            return
        self.metrics.leader.set(1 if self.leader else 0)
        if self.leader and not was:
            log.info("%s holds the poll lease; polling", self.holder)
            if self.started:
                await self.expand()
        elif was and not self.leader:
            log.warning("%s lost the poll lease; another replica polls now", self.holder)

    # -- polling and webhooks ----------------------------------------------------------

    async def expand(self) -> None:
        """Re-read watches (the poll lease holder only): config tags, patterns, stored watches."""
        if not self.leader or self.tasks.stopping:
            return
        await self.poller.expand()

    def covers(self, ref: ImageRef) -> bool:
        """Whether a webhook for `ref` concerns a watched tag (exactly, or by a pattern)."""
        return self.poller.covers(ref)

    async def tick(self) -> None:
        """Start one batch per registry of due watches, within that registry's budget."""
        if self.tasks.stopping:
            return
        now = self.clock()
        self.last_tick = now
        if self.leader:
            self.poller.start_due(now)

    def trigger(
        self, ref: ImageRef, *, pushed_by: str | None = None, announced: Digest | None = None
    ) -> asyncio.Task[list[CheckResult]] | None:
        """Check `ref` now (a webhook said it was pushed, maybe naming the digest it
        `announced`); None when no watch covers it. See `WebhookChecks.trigger`."""
        return self.webhook_checks.trigger(ref, pushed_by=pushed_by, announced=announced)

    # -- delivery ----------------------------------------------------------------------

    def route(self) -> int:
        """Route pending move events into the outbox; returns how many alerts were queued."""
        return self.delivery.route()

    async def deliver(self) -> None:
        """Route recorded moves, then deliver due outbox items."""
        await self.delivery.deliver()

    # -- clusters ----------------------------------------------------------------------

    def _scan_job(self, cluster: ClusterEntry) -> Callable[[], Any]:
        async def scan() -> None:
            if self.tasks.stopping or not self.cluster_leases.get(cluster.name):
                return
            await self.scan_cluster(cluster)

        return scan

    async def scan_cluster(self, cluster: ClusterEntry) -> int:
        """Scan one cluster: its latest findings and episodes into the store, their alerts
        queued; returns how many alerts."""
        _, queued = await scan_and_record(
            cluster,
            store=self.store,
            registry=self.registry,
            routes=self.routes,
            watches=self.settings.watches,
            metrics=self.metrics,
            now=self.now,
        )
        if queued:
            self.delivery.kick()
        return queued

    # -- health ------------------------------------------------------------------------

    def _tick_age(self) -> float | None:
        return None if self.last_tick is None else self.clock() - self.last_tick

    def liveness(self) -> dict[str, Any]:
        """What /healthz reports: alive unless the started scheduler stopped ticking."""
        return health.liveness(
            started=self.started,
            tick_age=self._tick_age(),
            stale_after=health.tick_stale_after(self.settings.scheduler.tick),
        )

    def readiness(self) -> dict[str, Any]:
        """What /readyz reports: database reachable, scheduler running, last cycle age."""
        database_error = None
        try:
            self.delivery.measure_outbox()
        except TagwatchError as exc:
            database_error = str(exc)
        now = self.clock()
        return health.readiness(
            scheduler_running=bool(self.started and self.scheduler.running),
            database_error=database_error,
            tick_age=None if self.last_tick is None else now - self.last_tick,
            cycle_age=None if self.last_cycle is None else now - self.last_cycle,
            stale_after=health.tick_stale_after(self.settings.scheduler.tick),
            leader=self.leader,
            stuck_registries=self.registry.stuck_hosts,
        )


def build_service(settings: Settings, *, holder: str | None = None) -> Service:
    """A service wired from settings: the store (an empty database is migrated), the registry
    client with per-host settings, and the Slack destinations."""
    from tagwatch.app.context import open_store, registry_client

    store = open_store(settings.database_url, migrate=True)
    registry = registry_client(settings.registry_settings())
    return Service(
        settings,
        store=store,
        registry=registry,
        destinations=build_destinations(settings, store=store),
        holder=holder,
    )
