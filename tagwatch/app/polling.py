"""Polling: the watch plan, one batch per registry at a time, within each registry's budget.

`account` is also how webhook checks spend and learn: every check result counts against the
registry's budget, and what the registry says of its rate limits shrinks it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from tagwatch.app.budget import Budget
from tagwatch.app.check import Checker, CheckResult
from tagwatch.app.metrics import Metrics
from tagwatch.app.scheduler import PlannedWatch, WatchPlan
from tagwatch.app.settings import BudgetSettings, Settings
from tagwatch.app.tasks import Tasks
from tagwatch.core.artifacts import pattern_matches
from tagwatch.core.moves import Source
from tagwatch.core.references import ImageRef
from tagwatch.errors import RateLimited, TagwatchError

__all__ = ["Poller"]

log = logging.getLogger(__name__)


class Poller:
    """The watches to poll (`plan`), their per-registry budgets, and the batches polling them.

    `on_move` is called when a check recorded a move (the service delivers right away);
    `count_moves` says whether moves are counted here (they are counted where they are routed
    when the service has destinations).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        checker: Checker,
        metrics: Metrics,
        tasks: Tasks,
        clock: Callable[[], float],
        count_moves: bool,
        on_move: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.checker = checker
        self.store = checker.store
        self.registry = checker.registry
        self.metrics = metrics
        self.tasks = tasks
        self.clock = clock
        self.count_moves = count_moves
        self.on_move = on_move
        self.plan = WatchPlan(jitter=settings.scheduler.jitter)
        self.budgets: dict[str, Budget] = {}
        self.last_cycle: float | None = None  # when a poll batch last finished
        self._batches: dict[str, asyncio.Task[None]] = {}
        self._requests_counted = 0  # the client's running total already added to the counter

    def budget(self, host: str) -> Budget:
        budget = self.budgets.get(host)
        if budget is None:
            entry = self.settings.registries.get(host)
            conf = entry.budget if entry else BudgetSettings()
            budget = self.budgets[host] = Budget(conf.requests, conf.per)
        return budget

    def _concurrency(self, host: str) -> int:
        entry = self.settings.registries.get(host)
        return (entry.budget if entry else BudgetSettings()).concurrency

    # -- watches -----------------------------------------------------------------------

    async def expand(self) -> None:
        """Re-read watches: config tags, config patterns (list_tags + fnmatch), stored watches."""
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

    def start_due(self, now: float) -> None:
        """Start one batch per registry of the watches due at `now`, within its budget."""
        for host, due in self.plan.due(now).items():
            running = self._batches.get(host)
            if running is not None and not running.done():
                continue  # that registry is still busy; others go on
            budget = self.budget(host)
            allowed = min(budget.available(now), self.settings.scheduler.batch_size)
            self.metrics.budget_available.labels(host).set(allowed)
            batch = due[:allowed]
            if not batch:
                continue
            budget.spend(len(batch), now)
            for watch in batch:
                watch.running = True
            self._batches[host] = self.tasks.spawn(self._poll(host, batch))

    async def _poll(self, host: str, batch: Sequence[PlannedWatch]) -> None:
        started = time.perf_counter()
        try:
            results = await self.checker.check(
                [w.ref for w in batch], source=Source.POLL, concurrency=self._concurrency(host)
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
        self.account(host, results, Source.POLL)
        self.last_cycle = self.clock()
        if any(r.move is not None and r.move.is_move for r in results):
            self.on_move()

    def account(self, host: str, results: Sequence[CheckResult], source: Source) -> None:
        """Count `results` of checks on `host` and let what the registry said shape its budget."""
        budget = self.budget(host)
        now = self.clock()
        self.metrics.checks.labels(host, source.value).inc(len(results))
        checked_at = self.checker.now().timestamp()
        for result in results:
            if not result.error:
                self.metrics.last_success.labels(str(result.ref)).set(checked_at)
            if result.error:
                self.metrics.errors.labels(host).inc()
                if isinstance(result.error, RateLimited):
                    budget.rate_limited(result.error.retry_after, now)
            elif result.move is not None and result.move.is_move and self.count_moves:
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
