"""A cluster scan's findings into the store: the latest findings, the episodes they open,
change and close, and their alerts, in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tagwatch.core.alerts import Alert, alerts_for_resolution, alerts_for_skew
from tagwatch.core.episodes import Found, OpenEpisode, plan_episodes
from tagwatch.core.routes import Route
from tagwatch.core.skew_findings import SkewReport
from tagwatch.notify.outbox import enqueue_alerts
from tagwatch.store import StoreTx

__all__ = ["ScanOutcome", "apply_scan"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    opened: int
    changed: int
    closed: int
    queued: int


def _alerts_of(
    found: Found,
    *,
    cluster: str,
    report: SkewReport,
    routes: Sequence[Route],
    labels: Mapping[str, str],
) -> list[Alert]:
    return alerts_for_skew(
        found.finding,
        cluster=cluster,
        builds=report.builds,
        routes=routes,
        labels=labels,
        conditions=[found.condition],
    )


def apply_scan(
    tx: StoreTx,
    report: SkewReport,
    *,
    cluster: str,
    routes: Sequence[Route],
    labels_of: Callable[[str], Mapping[str, str]],
    now: datetime,
) -> ScanOutcome:
    """Keep a successful scan's report as the cluster's latest findings, and open, change
    and close its episodes, queueing their alerts. `labels_of(image)` gives the labels of
    the watch covering a container's image."""
    tx.findings.replace(cluster, report.to_json(), at=now)
    episodes = tx.episodes.open_in(cluster)
    plan = plan_episodes(
        report.findings,
        [OpenEpisode(e.id, e.key, e.fingerprint) for e in episodes],
        cluster=cluster,
    )

    def alerts_of(found: Found) -> list[Alert]:
        labels = labels_of(found.finding.image)
        return _alerts_of(found, cluster=cluster, report=report, routes=routes, labels=labels)

    queued = 0
    for found in plan.opened:
        alerts = alerts_of(found)
        payload = alerts[0].payload if alerts else {}
        key = found.finding.key
        tx.episodes.open(
            key=found.key,
            cluster=cluster,
            condition=found.condition,
            workload=(key.kind, key.namespace, key.name),
            container=found.finding.container,
            fingerprint=found.fingerprint,
            payload=payload,
            now=now,
        )
        queued += enqueue_alerts(tx, alerts, now=now)
    for episode_id, found in plan.changed:
        alerts = alerts_of(found)
        payload = alerts[0].payload if alerts else {}
        tx.episodes.changed(episode_id, fingerprint=found.fingerprint, payload=payload)
        queued += enqueue_alerts(tx, alerts, now=now)
    by_id = {e.id: e for e in episodes}
    for closing in plan.closed:
        episode = by_id[closing.id]
        tx.episodes.close(episode.id, now=now)
        if episode.payload:
            resolved = alerts_for_resolution(
                episode.payload,
                key=episode.key,
                opened_at=episode.opened_at,
                resolved_at=now,
                routes=routes,
            )
            queued += enqueue_alerts(tx, resolved, now=now)
    if plan.opened or plan.closed or plan.changed:
        log.info(
            "cluster %s: %d episode(s) opened, %d changed, %d resolved",
            cluster,
            len(plan.opened),
            len(plan.changed),
            len(plan.closed),
        )
    return ScanOutcome(len(plan.opened), len(plan.changed), len(plan.closed), queued)
