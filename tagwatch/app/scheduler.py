"""When each watch is due (stable spread, jitter, coalescing) and the APScheduler jobs."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from tagwatch.core.references import ImageRef

__all__ = ["Job", "PlannedWatch", "WatchPlan", "build_scheduler", "stable_offset"]


def stable_offset(ref: ImageRef, interval: float) -> float:
    """Where in its interval a tag is polled: a hash of the tag, the same on every replica and
    every restart, so 10,000 watches are spread evenly over the interval instead of bunching."""
    digest = hashlib.sha256(str(ref).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * interval


@dataclass
class PlannedWatch:
    """One tag the poller owns: how often, which labels, and when it is next due (monotonic s)."""

    ref: ImageRef
    interval: float
    labels: Mapping[str, str]
    next_due: float = 0.0
    running: bool = False


@dataclass
class WatchPlan:
    """Due times for every watch.

    A tag is due at the grid points `offset + k * interval` (plus up to `jitter * interval` of
    random delay, so replicas and registries don't see a lock-step pattern). After a check the
    next due time is the first grid point after *now*: runs missed while the service was down
    or a registry was slow are coalesced into one, never replayed in a burst.
    """

    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random)
    watches: dict[ImageRef, PlannedWatch] = field(default_factory=dict)

    def _next(self, ref: ImageRef, interval: float, now: float) -> float:
        offset = stable_offset(ref, interval)
        grid = offset + math.floor((now - offset) / interval + 1) * interval
        return grid + self.rng.uniform(0, self.jitter * interval)

    def replace(
        self, entries: Iterable[tuple[ImageRef, float, Mapping[str, str]]], now: float
    ) -> None:
        """Set the watched tags; tags kept keep their due time, new ones join the grid."""
        fresh: dict[ImageRef, PlannedWatch] = {}
        for ref, interval, labels in entries:
            key = ref.without_digest()
            old = self.watches.get(key)
            if old is not None and old.interval == interval:
                old.labels = labels
                fresh[key] = old
            elif key not in fresh:
                fresh[key] = PlannedWatch(key, interval, labels, self._next(key, interval, now))
        self.watches = fresh

    def due(self, now: float) -> dict[str, list[PlannedWatch]]:
        """Due watches not being checked, by registry host, most overdue first."""
        out: dict[str, list[PlannedWatch]] = {}
        for watch in self.watches.values():
            if not watch.running and watch.next_due <= now:
                out.setdefault(watch.ref.registry, []).append(watch)
        for batch in out.values():
            batch.sort(key=lambda w: w.next_due)
        return out

    def done(self, watch: PlannedWatch, now: float) -> None:
        watch.running = False
        watch.next_due = self._next(watch.ref, watch.interval, now)

    def labels_of(self, ref: ImageRef) -> Mapping[str, str]:
        watch = self.watches.get(ref.without_digest())
        return watch.labels if watch else {}


@dataclass(frozen=True)
class Job:
    """A periodic coroutine: APScheduler runs it every `every` seconds, one at a time."""

    name: str
    every: float
    run: Callable[[], Awaitable[None]]


def build_scheduler(jobs: Iterable[Job], *, misfire_grace_time: float) -> AsyncIOScheduler:
    """An AsyncIOScheduler (not started) with one interval job per `Job`.

    Each job coalesces missed runs into one and never overlaps itself (max_instances=1), so a
    slow cycle or a paused process never causes a burst of catch-up runs.
    """
    scheduler = AsyncIOScheduler(
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": max(1, int(misfire_grace_time)),
        }
    )
    for job in jobs:
        scheduler.add_job(
            job.run,
            IntervalTrigger(seconds=job.every),
            id=job.name,
            name=job.name,
            replace_existing=True,
        )
    return scheduler
