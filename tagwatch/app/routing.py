"""Routing recorded moves: pending move events become outbox alerts with this service's routes.

Routing happens where alerts are delivered, not where the move was recorded: a `tagwatch
check` in CI without Slack settings leaves its events pending, and the service routes them
with its own configuration. Each event is routed once (claimed FOR UPDATE SKIP LOCKED on
PostgreSQL, marked in the transaction that queues its alerts) and each alert is queued once
(the outbox key), so replicas and restarts never double a message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from tagwatch.app.settings import WatchEntry
from tagwatch.app.watch_labels import WatchLabels
from tagwatch.core.alerts import alerts_for_move, alerts_for_signature
from tagwatch.core.moves import BuildInfo, Change, TagMove, diff_platforms
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import Route
from tagwatch.notify.outbox import enqueue_alerts
from tagwatch.store import Store
from tagwatch.store.episodes import ClusterScan
from tagwatch.store.events import EventState

__all__ = ["RoutingReport", "route_events"]

log = logging.getLogger(__name__)

#: Events routed per transaction: short transactions, and a backlog drains over a few calls.
BATCH = 200


@dataclass
class RoutingReport:
    """What one `route_events` call did: the moves it met (routed or expired), alerts queued."""

    moves: list[TagMove] = field(default_factory=list)
    expired: int = 0
    queued: int = 0


def _with_platforms(move: TagMove, before: BuildInfo | None, after: BuildInfo | None) -> TagMove:
    """The move with the platforms that changed, from the builds recorded for both digests
    (the history alone does not say)."""
    if move.change not in (Change.MOVED, Change.REPOINTED) or before is None or after is None:
        return move
    return replace(move, platforms=diff_platforms(before.platforms, after.platforms))


def _same_tag(image: str, ref: ImageRef) -> bool:
    try:
        return ImageRef.parse(image.partition("@")[0]).without_digest() == ref.without_digest()
    except ValueError:
        return False


def workloads_of(
    move: TagMove, scans: Mapping[str, ClusterScan]
) -> dict[str, list[dict[str, Any]]]:
    """From the latest scan of each cluster: the containers of the moved tag that run its old
    bytes now, and the ones at risk (the next restart pulls the new bytes)."""
    running_old: list[dict[str, Any]] = []
    at_risk: list[dict[str, Any]] = []
    old = str(move.from_digest) if move.from_digest else None
    for cluster, scan in sorted(scans.items()):
        for workload in scan.report.get("workloads") or []:
            if not _same_tag(str(workload.get("image") or ""), move.ref):
                continue
            entry = {
                "cluster": cluster,
                "namespace": workload.get("namespace"),
                "kind": workload.get("kind"),
                "name": workload.get("name"),
                "container": workload.get("container"),
            }
            pods = (workload.get("digests") or {}).get(old) if old else None
            if pods:
                running_old.append(entry | {"pods": list(pods)})
            elif workload.get("at_risk"):
                at_risk.append(entry | {"pods": sum(len(p) for p in workload["digests"].values())})
    return {"running_old": running_old, "at_risk": at_risk}


def route_events(
    store: Store,
    *,
    routes: Sequence[Route],
    watches: Sequence[WatchEntry],
    now: datetime,
    max_age: timedelta,
    limit: int = BATCH,
) -> RoutingReport:
    """Route up to `limit` pending move events into the outbox; those recorded more than
    `max_age` before `now` are marked expired instead (an old database opened by a new
    service must not flood a channel)."""
    report = RoutingReport()
    with store.begin() as tx:
        events = tx.events.claim_pending(limit=limit)
        if not events:
            return report
        labels = WatchLabels(watches, [(w.ref, w.labels) for w in tx.watches()])
        scans = tx.findings.latest()
        verdicts = tx.signatures([e.move.ref for e in events])
        routed: list[int] = []
        expired: list[int] = []
        for event in events:
            move = event.move
            if event.recorded_at < now - max_age:
                report.moves.append(move)
                expired.append(event.id)
                continue
            digests = [d for d in (move.from_digest, move.to_digest) if d is not None]
            builds = tx.builds(digests) if digests else {}
            before = builds.get(move.from_digest) if move.from_digest else None
            after = builds.get(move.to_digest) if move.to_digest else None
            move = _with_platforms(move, before, after)
            report.moves.append(move)
            alerts = alerts_for_move(
                move,
                before=before,
                after=after,
                routes=routes,
                labels=labels.labels_of(move.ref),
                workloads=workloads_of(move, scans),
            )
            verdict = (
                verdicts.get((move.ref.registry, move.ref.repository, str(move.to_digest)))
                if move.to_digest is not None
                else None
            )
            if verdict is not None:
                alerts += alerts_for_signature(
                    move,
                    verdict,
                    before=before,
                    after=after,
                    routes=routes,
                    labels=labels.labels_of(move.ref),
                )
            report.queued += enqueue_alerts(tx, alerts, now=now)
            routed.append(event.id)
        tx.events.mark(routed, EventState.ROUTED, now=now)
        tx.events.mark(expired, EventState.EXPIRED, now=now)
    report.expired = len(expired)
    if expired:
        log.warning(
            "%d recorded move(s) older than %s were not alerted (marked expired)",
            len(expired),
            max_age,
        )
    if report.queued:
        log.info("queued %d alert(s) for %d recorded move(s)", report.queued, len(routed))
    return report
