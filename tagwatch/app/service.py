"""The long-running service: polls watches within budgets, runs webhook checks, delivers alerts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tagwatch.app.budget import Budget
from tagwatch.app.check import CheckResult, run_check
from tagwatch.app.cluster_scans import scan_and_record
from tagwatch.app.context import judge_for
from tagwatch.app.metrics import Metrics
from tagwatch.app.routing import BATCH as ROUTING_BATCH
from tagwatch.app.routing import route_events
from tagwatch.app.scheduler import Job, PlannedWatch, WatchPlan, build_scheduler
from tagwatch.app.settings import BudgetSettings, ClusterEntry, Settings
from tagwatch.core.artifacts import pattern_matches
from tagwatch.core.digests import Digest
from tagwatch.core.moves import Change, Source
from tagwatch.core.references import ImageRef
from tagwatch.core.skew_findings import SkewReport
from tagwatch.core.times import iso_utc, utcnow
from tagwatch.errors import RateLimited, TagwatchError
from tagwatch.notify import BotDestination, Destination, WebhookDestination, deliver_due
from tagwatch.notify.json_hook import JsonHookDestination
from tagwatch.registry import RegistryClient
from tagwatch.registry.retry import RetryPolicy
from tagwatch.store import SlackThreads, Store

__all__ = ["Service", "build_destinations", "build_service"]

log = logging.getLogger(__name__)
# Longer than any backoff (capped at 1 h) or in-flight mark: what waits longer is parked.
PARKED_BEYOND = timedelta(minutes=90)

POLL_LEASE = "poll"
#: Backoff for a webhook check that failed on our side: 0.5 s doubling to 30 s, jittered.
WEBHOOK_RETRY = RetryPolicy(max_wait=30.0, base=0.5)
#: Pauses before checking again a tag whose webhook named a digest the registry did not show
#: yet: distribution sends its notification from the manifest store, before it points the tag
#: at the new manifest, so a fast check still reads the old digest (about 6 s in all).
WEBHOOK_SETTLE = (0.2, 0.4, 0.8, 1.6, 3.2)


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


@dataclass
class _Ticket:
    """A webhook check running for one tag; `again` asks for one more check after it, because a
    push arrived after the running check may already have asked the registry."""

    ref: ImageRef
    task: asyncio.Task[list[CheckResult]] | None = None
    again: bool = False
    pushed_by: str | None = None  # who pushed, per the latest webhook for the tag
    announced: Digest | None = None  # the digest the latest webhook for the tag named


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
        sched = settings.scheduler
        self.plan = WatchPlan(jitter=sched.jitter)
        self.budgets: dict[str, Budget] = {}
        self.leader = False
        #: The latest skew report of each cluster this replica scanned (what the board shows).
        self.latest_scans: dict[str, SkewReport] = {}
        self.cluster_leases: dict[str, bool] = {}
        self.last_tick: float | None = None
        self.last_cycle: float | None = None  # when a poll batch last finished
        self._requests_counted = 0  # the client's running total already added to the counter
        self.started = False
        self._batches: dict[str, asyncio.Task[None]] = {}
        self._webhook_checks: dict[ImageRef, _Ticket] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._stopped = asyncio.Event()  # set by stop(): ends retry pauses at once
        self._deliver_now = asyncio.Event()
        self.signatures = judge_for(settings.signing)
        self.routes = settings.routes()
        jobs = [
            Job("leases", max(sched.lease_ttl / 3, 0.2), self.renew_leases),
            Job("expand", sched.expand_interval, self.expand),
            Job("tick", sched.tick, self.tick),
        ]
        if self.destinations:
            jobs.append(Job("deliver", sched.delivery_interval, self.deliver))
        jobs += [Job(f"scan:{c.name}", c.interval, self._scan_job(c)) for c in settings.clusters]
        self.scheduler = build_scheduler(jobs, misfire_grace_time=sched.misfire_grace_time)

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Take leases, expand watches and start the scheduler (call inside the event loop)."""
        await self.renew_leases()
        if self.destinations:
            self._wake_parked_alerts()
        await self.expand()
        self.scheduler.start()
        await self.tick()
        if self.destinations:
            self._spawn(self._delivery_kicker())
        self.started = True
        log.info("tagwatch service %s started (leader=%s)", self.holder, self.leader)

    def _wake_parked_alerts(self) -> None:
        """Alerts parked after a permanent Slack failure get one try now: a restart usually
        follows fixing the token or channel that refused them."""
        with self.store.begin() as tx:
            woken = tx.outbox.retry_parked(now=self.now(), parked_beyond=PARKED_BEYOND)
        if woken:
            log.info("retrying %d alert(s) parked after a permanent delivery failure", woken)

    async def stop(self, grace: float = 20.0) -> None:
        """Stop scheduling, let in-flight checks and deliveries finish, release the leases."""
        if self._stopping:
            return
        self._stopping = True
        self._stopped.set()
        self._deliver_now.set()  # wakes the delivery kicker, which then returns
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _done, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        with contextlib.suppress(TagwatchError), self.store.begin() as tx:
            tx.leases.release(POLL_LEASE, holder=self.holder)
            for cluster in self.settings.clusters:
                tx.leases.release(f"scan:{cluster.name}", holder=self.holder)
        self.leader = False
        self.started = False
        log.info("tagwatch service %s stopped", self.holder)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- leases ------------------------------------------------------------------------

    def _lease(self, name: str) -> bool:
        ttl = max(1, math_ceil(self.settings.scheduler.lease_ttl))
        with self.store.begin() as tx:
            return tx.leases.acquire(name, holder=self.holder, now=self.now(), ttl_seconds=ttl)

    async def renew_leases(self) -> None:
        if self._stopping:
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

    # -- watches -----------------------------------------------------------------------

    def _budget(self, host: str) -> Budget:
        budget = self.budgets.get(host)
        if budget is None:
            entry = self.settings.registries.get(host)
            conf = entry.budget if entry else BudgetSettings()
            budget = self.budgets[host] = Budget(conf.requests, conf.per)
        return budget

    def _concurrency(self, host: str) -> int:
        entry = self.settings.registries.get(host)
        return (entry.budget if entry else BudgetSettings()).concurrency

    async def expand(self) -> None:
        """Re-read watches: config tags, config patterns (list_tags + fnmatch), stored watches."""
        if not self.leader or self._stopping:
            return
        default = self.settings.scheduler.default_interval
        entries: list[tuple[ImageRef, float, Mapping[str, str]]] = []
        for watch in self.settings.watches:
            interval = watch.interval or default
            if not watch.is_pattern:
                entries.append((watch.image(), interval, watch.labels))
                continue
            repo = watch.repository
            try:
                tags = await self.registry.list_tags(repo)
            except TagwatchError as exc:
                log.warning("cannot list tags for %s: %s", watch.ref, exc)
                # Keep what we had for this pattern rather than dropping it.
                tags = [
                    w.ref.tag or ""
                    for w in self.plan.watches.values()
                    if w.ref.registry == repo.registry and w.ref.repository == repo.repository
                ]
            entries += [
                (repo.with_tag(tag), interval, watch.labels)
                for tag in tags
                if pattern_matches(watch.tag_pattern, tag)
            ]
        try:
            with self.store.begin() as tx:
                stored = tx.watches()
        except TagwatchError as exc:
            log.error("cannot read stored watches: %s", exc)
            stored = []
        entries += [(w.ref, float(w.interval_seconds or default), w.labels) for w in stored]
        self.plan.replace(entries, self.clock())
        self.metrics.watches.set(len(self.plan.watches))

    def covers(self, ref: ImageRef) -> bool:
        """Whether a webhook for `ref` concerns a watched tag (exactly, or by a pattern)."""
        if ref.without_digest() in self.plan.watches:
            return True
        for watch in self.settings.watches:
            if watch.is_pattern:
                repo = watch.repository
                if (
                    repo.registry == ref.registry
                    and repo.repository == ref.repository
                    and pattern_matches(watch.tag_pattern, ref.tag or "")
                ):
                    return True
            elif watch.image().without_digest() == ref.without_digest():
                return True
        return False

    # -- polling -----------------------------------------------------------------------

    async def tick(self) -> None:
        """Start one batch per registry of due watches, within that registry's budget."""
        if self._stopping:
            return
        now = self.clock()
        self.last_tick = now
        if not self.leader:
            return
        for host, due in self.plan.due(now).items():
            running = self._batches.get(host)
            if running is not None and not running.done():
                continue  # that registry is still busy; others go on
            budget = self._budget(host)
            allowed = min(budget.available(now), self.settings.scheduler.batch_size)
            self.metrics.budget_available.labels(host).set(allowed)
            batch = due[:allowed]
            if not batch:
                continue
            budget.spend(len(batch), now)
            for watch in batch:
                watch.running = True
            self._batches[host] = self._spawn(self._poll(host, batch))

    async def _poll(self, host: str, batch: Sequence[PlannedWatch]) -> None:
        started = time.perf_counter()
        try:
            results = await run_check(
                [w.ref for w in batch],
                registry=self.registry,
                store=self.store,
                now=self.now,
                source=Source.POLL,
                concurrency=self._concurrency(host),
                signatures=self.signatures,
            )
        except TagwatchError as exc:
            log.error("poll of %d tags on %s failed: %s", len(batch), host, exc)
            self.metrics.errors.labels(host).inc(len(batch))
            results = []
        finally:
            now = self.clock()
            for watch in batch:
                self.plan.done(watch, now)
        self.metrics.latency.labels(host).observe(time.perf_counter() - started)
        self._account(host, results, Source.POLL)
        self.last_cycle = self.clock()
        if any(r.move is not None and r.move.is_move for r in results):
            self._deliver_now.set()

    def _account(self, host: str, results: Sequence[CheckResult], source: Source) -> None:
        budget = self._budget(host)
        now = self.clock()
        self.metrics.checks.labels(host, source.value).inc(len(results))
        checked_at = self.now().timestamp()
        for result in results:
            if not result.error:
                self.metrics.last_success.labels(str(result.ref)).set(checked_at)
            if result.error:
                self.metrics.errors.labels(host).inc()
                if isinstance(result.error, RateLimited):
                    budget.rate_limited(result.error.retry_after, now)
            elif result.move is not None and result.move.is_move and not self.destinations:
                # With destinations, moves are counted where they are routed: every recorded
                # move, whoever recorded it. Without, no events are routed here.
                self.metrics.moves.labels(host, result.move.change.value).inc()
        sent = self.registry.requests_sent
        self.metrics.requests.inc(max(0, sent - self._requests_counted))
        self._requests_counted = sent
        self.metrics.stuck.labels(host).set(1 if host in self.registry.stuck_hosts else 0)
        status = self.registry.rate_limits.get(host)
        if status is not None:
            budget.observe(status, now)
            if status.remaining is not None:
                self.metrics.rate_limit_remaining.labels(host).set(status.remaining)

    # -- webhooks ----------------------------------------------------------------------

    def trigger(
        self, ref: ImageRef, *, pushed_by: str | None = None, announced: Digest | None = None
    ) -> asyncio.Task[list[CheckResult]] | None:
        """Check `ref` now (a webhook said it was pushed); None when no watch covers it.

        Only the registry's answer is recorded (with `pushed_by`, what the authenticated
        webhook said of who pushed, when the check finds a move), so a forged webhook cannot
        write a digest. Webhooks for a tag being checked right now coalesce into one more
        check after it (the running one may have asked before this push landed). When the
        webhook `announced` a digest and the registry still shows another, the tag is checked
        again a few times over a few seconds (`WEBHOOK_SETTLE`): the registry may not point
        the tag at the new manifest yet.
        """
        if self._stopping or ref.tag is None or not self.covers(ref):
            return None
        key = ref.without_digest()
        ticket = self._webhook_checks.get(key)
        if ticket is not None and ticket.task is not None and not ticket.task.done():
            ticket.again = True
            ticket.pushed_by = pushed_by
            ticket.announced = announced
            return ticket.task
        ticket = self._webhook_checks[key] = _Ticket(key, pushed_by=pushed_by, announced=announced)
        task: asyncio.Task[list[CheckResult]] = self._spawn(self._webhook_check(ticket))
        ticket.task = task
        return task

    async def _webhook_check(self, ticket: _Ticket) -> list[CheckResult]:
        results: list[CheckResult] = []
        failures = 0
        settles = 0
        while True:
            ticket.again = False
            pushers = {ticket.ref: ticket.pushed_by} if ticket.pushed_by else None
            try:
                batch = await run_check(
                    [ticket.ref],
                    registry=self.registry,
                    store=self.store,
                    now=self.now,
                    source=Source.WEBHOOK,
                    signatures=self.signatures,
                    pushed_by=pushers,
                )
            except TagwatchError as exc:
                # The push happened; only we failed (the database, mostly). Retry until we can
                # record it rather than leave the move to the next poll, maybe an hour away.
                delay = WEBHOOK_RETRY.backoff(failures)
                failures += 1
                self.metrics.webhook_check_failures.labels(ticket.ref.registry).inc()
                log.warning(
                    "webhook check of %s failed (attempt %d): %s; retrying in %.1f s",
                    ticket.ref,
                    failures,
                    exc,
                    delay,
                )
                if not await self._pause(delay):
                    return results
                continue
            results += batch
            self._account(ticket.ref.registry, batch, Source.WEBHOOK)
            if any(r.move is not None and r.move.is_move for r in batch):
                self._deliver_now.set()
            if self._stopping:
                return results
            if ticket.again:
                continue
            if not _shows(batch, ticket.announced) and settles < len(WEBHOOK_SETTLE):
                if not await self._pause(WEBHOOK_SETTLE[settles]):
                    return results
                settles += 1
                continue
            return results

    async def _pause(self, seconds: float) -> bool:
        """Sleep `seconds`, cut short by stop(); whether the service is still running."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)
        return not self._stopping

    # -- delivery ----------------------------------------------------------------------

    async def _delivery_kicker(self) -> None:
        """Deliver right after a check queued alerts, not at the next delivery tick."""
        while not self._stopping:
            await self._deliver_now.wait()
            self._deliver_now.clear()
            if self._stopping:
                return
            await self.deliver()

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
            if len(report.moves) < ROUTING_BATCH or self._stopping:
                return queued

    async def deliver(self) -> None:
        """Route recorded moves, then deliver due outbox items (any replica; claims are
        exclusive)."""
        if self._stopping or not self.destinations:
            return
        try:
            self.route()
            report = await deliver_due(
                self.store,
                destinations=self.destinations,
                now=self.now,
                worker=self.holder,
                lease_seconds=max(2, math_ceil(self.settings.scheduler.delivery_lease)),
            )
            self.metrics.delivered.inc(report.delivered)
            self.metrics.delivery_failures.inc(report.retrying + report.permanent)
            self.metrics.refused.inc(report.permanent)
            self._measure_outbox()
        except TagwatchError as exc:
            log.error("alert delivery failed: %s", exc)

    # -- clusters ----------------------------------------------------------------------

    def _scan_job(self, cluster: ClusterEntry) -> Callable[[], Any]:
        async def scan() -> None:
            if self._stopping or not self.cluster_leases.get(cluster.name):
                return
            await self.scan_cluster(cluster)

        return scan

    async def scan_cluster(self, cluster: ClusterEntry) -> int:
        """Scan one cluster: its latest findings and episodes into the store, their alerts
        queued; returns how many alerts."""
        report, queued = await scan_and_record(
            cluster,
            store=self.store,
            registry=self.registry,
            routes=self.routes,
            watches=self.settings.watches,
            metrics=self.metrics,
            now=self.now,
        )
        if report is not None:
            self.latest_scans[cluster.name] = report
        if queued:
            self._deliver_now.set()
        return queued

    # -- health ------------------------------------------------------------------------

    def _measure_outbox(self) -> None:
        with self.store.begin() as tx:
            depth = tx.outbox.depth()
            oldest = tx.outbox.oldest_pending()
        self.metrics.outbox_depth.set(depth)
        age = 0.0 if oldest is None else (self.now() - oldest).total_seconds()
        self.metrics.outbox_age.set(max(0.0, age))

    def _tick_stale_after(self) -> float:
        """Seconds without a scheduler tick after which the service counts as wedged."""
        return max(30.0, self.settings.scheduler.tick * 10)

    def liveness(self) -> dict[str, Any]:
        """What /healthz reports: alive unless the started scheduler stopped ticking."""
        if not self.started or self.last_tick is None:
            return {"alive": True, "last_tick_age_seconds": None}
        age = self.clock() - self.last_tick
        alive = age <= self._tick_stale_after()
        out: dict[str, Any] = {"alive": alive, "last_tick_age_seconds": round(age, 3)}
        if not alive:
            out["reason"] = f"the scheduler has not ticked for {age:.0f} s"
        return out

    def readiness(self) -> dict[str, Any]:
        """What /readyz reports: database reachable, scheduler running, last cycle age."""
        checks: dict[str, Any] = {"scheduler": bool(self.started and self.scheduler.running)}
        try:
            self._measure_outbox()
            checks["database"] = True
        except TagwatchError as exc:
            checks["database"] = False
            checks["database_error"] = str(exc)
        now = self.clock()
        tick_age = None if self.last_tick is None else now - self.last_tick
        checks["last_tick_age_seconds"] = tick_age
        checks["last_cycle_age_seconds"] = (
            None if self.last_cycle is None else now - self.last_cycle
        )
        checks["leader"] = self.leader
        # Detail, not a reason to be unready: restarting tagwatch does not unstick a registry.
        checks["stuck_registries"] = {
            name: iso_utc(since) for name, since in sorted(self.registry.stuck_hosts.items())
        }
        stale = tick_age is None or tick_age > self._tick_stale_after()
        checks["ready"] = bool(checks["scheduler"] and checks["database"] and not stale)
        reasons = []
        if not checks["scheduler"]:
            reasons.append("the scheduler is not running")
        if not checks["database"]:
            reasons.append(f"the database cannot be reached: {checks['database_error']}")
        if stale:
            reasons.append(
                "the scheduler has not ticked yet"
                if tick_age is None
                else f"the scheduler has not ticked for {tick_age:.0f} s"
            )
        checks["reasons"] = reasons  # empty when ready: why not, in words
        return checks


def _shows(batch: Sequence[CheckResult], announced: Digest | None) -> bool:
    """Whether a webhook check is done with what its webhook announced: anything but the
    registry showing the tag unchanged on another digest than the webhook named."""
    if announced is None:
        return True
    return not any(
        r.move is not None and r.move.change is Change.UNCHANGED and r.move.to_digest != announced
        for r in batch
        if r.error is None
    )


def math_ceil(value: float) -> int:
    return int(-(-value // 1))


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
