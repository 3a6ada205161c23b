"""The latest scan of a cluster as the store keeps it (`SkewReport.to_json`), read back into
typed views for the skew board, the timeline and the findings API.

The store, not the memory of the replica that scanned, is the source: any replica, and a
service right after a restart, shows the same board. The stored JSON is what `tagwatch skew
-o json` prints; it was written by this or another version of tagwatch, so a missing or
unreadable field is read as unknown rather than failing the page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tagwatch.core.digests import Digest
from tagwatch.core.rollouts import RolloutStatus
from tagwatch.core.skew_findings import PodState
from tagwatch.core.workloads import ImageKey, WorkloadKey
from tagwatch.store import StoreTx
from tagwatch.store.episodes import ClusterScan

__all__ = ["PodView", "ScanView", "WorkloadView", "scan_view", "stored_scans"]

_LOCAL = "image-id:"


@dataclass(frozen=True, slots=True)
class PodView:
    """One pod's container as the scan saw it."""

    name: str
    node: str | None
    digest: ImageKey | None
    state: PodState
    started_at: datetime | None


@dataclass(frozen=True, slots=True)
class WorkloadView:
    """One container of one workload in the scan; `document` is its JSON as stored (what the
    findings API answers, the same shape as `tagwatch skew -o json`)."""

    key: WorkloadKey
    container: str
    image: str
    skewed: bool
    at_risk: bool
    stuck_rollout: bool
    tag_digest_now: Digest | None
    last_move_at: datetime | None
    repushed_recently: bool
    reasons: tuple[str, ...]
    risk: str | None
    rollout: RolloutStatus
    remediation: tuple[str, ...]
    pods: tuple[PodView, ...]
    document: Mapping[str, Any] = field(hash=False, repr=False)

    @property
    def needs_attention(self) -> bool:
        return self.skewed or self.at_risk or self.stuck_rollout


@dataclass(frozen=True, slots=True)
class ScanView:
    """The latest successful scan of `cluster` (`scanned_at` None: none yet), and the failure
    of the scans since, if the last one failed."""

    cluster: str
    scanned_at: datetime | None
    workloads: tuple[WorkloadView, ...]
    failed_at: datetime | None = None
    error: str | None = None

    @property
    def attention(self) -> list[WorkloadView]:
        return [w for w in self.workloads if w.needs_attention]


def _digest(raw: Any) -> Digest | None:
    if not isinstance(raw, str):
        return None
    try:
        return Digest.parse(raw)
    except ValueError:
        return None


def _image_key(raw: Any) -> ImageKey | None:
    if not isinstance(raw, str):
        return None
    local = raw.startswith(_LOCAL)
    digest = _digest(raw.removeprefix(_LOCAL))
    return ImageKey(digest, local) if digest is not None else None


def _time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _text(raw: Any, default: str = "") -> str:
    return raw if isinstance(raw, str) else default


def _texts(raw: Any) -> tuple[str, ...]:
    return tuple(r for r in raw if isinstance(r, str)) if isinstance(raw, list) else ()


def _mapping(raw: Any) -> Mapping[str, Any]:
    return raw if isinstance(raw, dict) else {}


def _state(raw: Any) -> PodState:
    try:
        return PodState(raw)
    except ValueError:
        return PodState.UNKNOWN


def _pod(doc: Mapping[str, Any]) -> PodView:
    return PodView(
        name=_text(doc.get("name"), "?"),
        node=doc.get("node") if isinstance(doc.get("node"), str) else None,
        digest=_image_key(doc.get("digest")),
        state=_state(doc.get("state")),
        started_at=_time(doc.get("started_at")),
    )


def _workload(doc: Mapping[str, Any]) -> WorkloadView:
    rollout = _mapping(doc.get("rollout"))
    pods = doc.get("pods")
    return WorkloadView(
        key=WorkloadKey(
            _text(doc.get("kind"), "?"), _text(doc.get("namespace"), "?"), _text(doc.get("name"))
        ),
        container=_text(doc.get("container")),
        image=_text(doc.get("image")),
        skewed=doc.get("skewed") is True,
        at_risk=doc.get("at_risk") is True,
        stuck_rollout=doc.get("stuck_rollout") is True,
        tag_digest_now=_digest(doc.get("tag_digest_now")),
        last_move_at=_time(doc.get("last_move_at")),
        repushed_recently=doc.get("repushed_recently") is True,
        reasons=_texts(doc.get("reasons")),
        risk=doc.get("risk") if isinstance(doc.get("risk"), str) else None,
        rollout=RolloutStatus(rollout.get("complete") is True, _text(rollout.get("reason"))),
        remediation=_texts(doc.get("remediation")),
        pods=tuple(_pod(p) for p in pods if isinstance(p, dict)) if isinstance(pods, list) else (),
        document=doc,
    )


def scan_view(scan: ClusterScan) -> ScanView:
    """A stored scan read back; a report with no workloads list shows none."""
    workloads = scan.report.get("workloads")
    docs = [w for w in workloads if isinstance(w, dict)] if isinstance(workloads, list) else []
    return ScanView(
        cluster=scan.cluster,
        scanned_at=scan.scanned_at,
        workloads=tuple(_workload(w) for w in docs),
        failed_at=scan.failed_at,
        error=scan.error,
    )


def stored_scans(tx: StoreTx, clusters: Iterable[str]) -> dict[str, ScanView]:
    """The latest stored scan of each of `clusters` that was ever scanned, by name."""
    names = list(clusters)
    if not names:
        return {}
    return {name: scan_view(scan) for name, scan in tx.findings.latest(names).items()}
