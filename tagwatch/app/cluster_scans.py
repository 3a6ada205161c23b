"""The service's scan of one configured cluster: read it, refresh its tags, keep its findings
and episodes, queue their alerts; a failing scan is counted and changes nothing else."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from tagwatch.app.episodes import apply_scan
from tagwatch.app.metrics import Metrics
from tagwatch.app.settings import ClusterEntry, WatchEntry
from tagwatch.app.watch_labels import WatchLabels
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import Route
from tagwatch.core.skew_findings import SkewReport
from tagwatch.errors import TagwatchError
from tagwatch.store import Store

if TYPE_CHECKING:
    from tagwatch.registry import RegistryClient

__all__ = ["scan_and_record"]

log = logging.getLogger(__name__)


def _labels_of_image(watches: WatchLabels, image: str) -> Mapping[str, str]:
    try:
        return watches.labels_of(ImageRef.parse(image.partition("@")[0]))
    except ValueError:
        return {}


def _measure(metrics: Metrics, cluster: str, report: SkewReport, now: datetime) -> None:
    findings = [f for f in report.findings if f.skewed or f.at_risk or f.stuck_rollout]
    metrics.skewed.labels(cluster).set(sum(1 for f in findings if f.skewed))
    metrics.at_risk.labels(cluster).set(sum(1 for f in findings if f.at_risk))
    metrics.stuck_rollouts.labels(cluster).set(sum(1 for f in findings if f.stuck_rollout))
    metrics.last_scan.labels(cluster).set(now.timestamp())


async def scan_and_record(
    cluster: ClusterEntry,
    *,
    store: Store,
    registry: RegistryClient,
    routes: Sequence[Route],
    watches: Sequence[WatchEntry],
    metrics: Metrics,
    now: Callable[[], datetime],
) -> tuple[SkewReport | None, int]:
    """Scan `cluster`; returns its report (None when the scan failed) and the alerts queued."""
    from tagwatch.app.context import cluster_client
    from tagwatch.app.skew import scan_skew
    from tagwatch.cluster.config import ClusterSettings

    try:
        where = ClusterSettings(kubeconfig=cluster.kubeconfig, context=cluster.context)
        async with cluster_client(where) as client:
            result = await scan_skew(
                cluster=client,
                store=store,
                registry=registry,
                namespace=cluster.namespace,
                selector=cluster.selector,
                now=now,
            )
    except TagwatchError as exc:
        log.error("skew scan of cluster %s failed: %s", cluster.name, exc)
        metrics.scan_errors.labels(cluster.name).inc()
        # A failed scan proves nothing: no episode opens or closes; the last findings stay.
        with contextlib.suppress(TagwatchError), store.begin() as tx:
            tx.findings.failed(cluster.name, str(exc), at=now())
        return None, 0
    report = result.report
    _measure(metrics, cluster.name, report, now())
    with store.begin() as tx:
        labels = WatchLabels(watches, [(w.ref, w.labels) for w in tx.watches()])
        outcome = apply_scan(
            tx,
            report,
            cluster=cluster.name,
            routes=routes,
            labels_of=lambda image: _labels_of_image(labels, image),
            now=now(),
        )
    return report, outcome.queued
