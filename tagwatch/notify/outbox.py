"""Queueing alerts in the outbox in the caller's transaction: the check cycle's `on_move` hook."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tagwatch.core.alerts import Alert, alerts_for_move, alerts_for_skew
from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, MoveHook, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.routes import Route

if TYPE_CHECKING:
    from tagwatch.core.skew import WorkloadFinding

__all__ = ["alert_on_move", "enqueue_alerts", "enqueue_skew"]

log = logging.getLogger(__name__)


class _Queue(Protocol):
    def enqueue(
        self,
        *,
        key: str,
        destination: str,
        kind: str,
        payload: Mapping[str, Any],
        now: datetime,
    ) -> bool: ...


class _Tx(Protocol):
    @property
    def outbox(self) -> _Queue: ...

    def builds(self, digests: Iterable[Digest]) -> Mapping[Digest, BuildInfo]: ...


def enqueue_alerts(tx: _Tx, alerts: Iterable[Alert], *, now: datetime) -> int:
    """Queue `alerts` in the caller's transaction; returns how many were new (a key queued
    before is skipped, so the same move or finding never alerts twice)."""
    queued = 0
    for alert in alerts:
        if tx.outbox.enqueue(
            key=alert.key,
            destination=alert.destination,
            kind=alert.kind.value,
            payload=alert.payload,
            now=now,
        ):
            queued += 1
    return queued


def alert_on_move(
    *,
    routes: Sequence[Route],
    labels_of: Callable[[ImageRef], Mapping[str, str]],
) -> MoveHook[_Tx]:
    """The check cycle's `on_move` hook: route the move and queue its alerts with it.

    `labels_of(ref)` gives the labels of the watch that covers the tag (`{}` if none). The
    build the tag pointed to before is read from the same transaction.
    """

    def on_move(tx: _Tx, move: TagMove, after: BuildInfo | None) -> None:
        before = tx.builds([move.from_digest]).get(move.from_digest) if move.from_digest else None
        alerts = alerts_for_move(
            move,
            before=before,
            after=after,
            routes=routes,
            labels=labels_of(move.ref.without_digest()),
        )
        queued = enqueue_alerts(tx, alerts, now=move.detected_at)
        if queued:
            log.info("queued %d alert(s) for %s (%s)", queued, move.ref, move.change.value)

    return on_move


def enqueue_skew(
    tx: _Tx,
    finding: WorkloadFinding,
    *,
    cluster: str,
    builds: Mapping[Digest, BuildInfo],
    routes: Sequence[Route],
    labels: Mapping[str, str],
    now: datetime,
) -> int:
    """Queue the alerts of one cluster finding; the same workload, container and set of
    digests alerts once, however many scans see it."""
    alerts = alerts_for_skew(finding, cluster=cluster, builds=builds, routes=routes, labels=labels)
    return enqueue_alerts(tx, alerts, now=now)
