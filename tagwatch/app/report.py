"""`tagwatch report`: gather a period's audit trail from the store and build the review."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from tagwatch.app.drift import find_drift
from tagwatch.core.drift import DriftState
from tagwatch.core.references import ImageRef
from tagwatch.core.report import AuditReport, DriftRow, build_report
from tagwatch.core.times import utcnow

if TYPE_CHECKING:
    from tagwatch.store import Store

__all__ = ["audit_report"]


async def audit_report(
    *,
    store: Store,
    since: datetime,
    refs: Sequence[ImageRef] = (),
    include_latest: bool = False,
    now: Callable[[], datetime] = utcnow,
) -> AuditReport:
    """The review of everything recorded since `since` (for `refs`' tags, or all), from the
    store alone: a report describes what was recorded, it asks no registry."""
    from tagwatch.store.audit import MoveFilter

    until = now()
    with store.begin() as tx:
        if refs:
            moves = [
                m for ref in refs for m in tx.audit.stream_moves(MoveFilter(ref=ref, since=since))
            ]
        else:
            moves = list(tx.audit.stream_moves(MoveFilter(since=since)))
        verdicts = tx.signatures([m.ref for m in moves])
        digests = {d for m in moves for d in (m.from_digest, m.to_digest) if d is not None}
        builds = tx.builds(digests)
    revisions = {d: b.revision for d, b in builds.items() if b.revision}
    drift = [
        DriftRow(
            r.ref,
            r.drift.digest,
            r.drift.base,
            r.drift.base_digest,
            r.drift.base_now,
            r.drift.moves_behind,
            r.drift.moved_at or r.drift.window_start,
            r.drift.found_by,
        )
        for r in await find_drift(list(refs), store=store, registry=None, now=lambda: until)
        if r.drift is not None and r.drift.state is DriftState.BEHIND and r.drift.base is not None
    ]
    return build_report(
        moves,
        since=since,
        now=until,
        signatures=verdicts,
        revisions=revisions,
        drift=drift,
        include_latest=include_latest,
    )
