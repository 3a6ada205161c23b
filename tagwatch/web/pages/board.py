"""What the skew board and the timeline show of the latest scans: pure grouping, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.core.workloads import ImageKey
from tagwatch.errors import InvalidReference
from tagwatch.web.scans import PodView, ScanView, WorkloadView

__all__ = ["PodGroup", "Runner", "pod_groups", "running_now", "state_words"]


@dataclass(frozen=True, slots=True)
class PodGroup:
    """The pods of one workload that run one build on one node."""

    digest: ImageKey | None
    node: str | None
    pods: tuple[PodView, ...]


@dataclass(frozen=True, slots=True)
class Runner:
    """A workload container that runs a digest now, as the latest scan of `cluster` saw it."""

    cluster: str
    workload: str
    container: str
    pods: int


def state_words(finding: WorkloadView) -> list[str]:
    """What is wrong, in words (the board never relies on colour alone)."""
    words = []
    if finding.skewed:
        words.append("skewed")
    if finding.at_risk:
        words.append("at risk")
    if finding.stuck_rollout:
        words.append("rollout stuck")
    return words or ["uniform"]


def pod_groups(finding: WorkloadView) -> list[PodGroup]:
    """Pods grouped by the build they run, then by node, in a stable order."""
    groups: dict[tuple[str, str], list[PodView]] = {}
    keys: dict[tuple[str, str], tuple[ImageKey | None, str | None]] = {}
    for pod in finding.pods:
        key = (str(pod.digest) if pod.digest else "~", pod.node or "~")
        groups.setdefault(key, []).append(pod)
        keys[key] = (pod.digest, pod.node)
    return [
        PodGroup(keys[k][0], keys[k][1], tuple(sorted(groups[k], key=lambda p: p.name)))
        for k in sorted(groups)
    ]


def _same_tag(image: str, ref: ImageRef) -> bool:
    try:
        parsed = ImageRef.parse(image)
    except InvalidReference:
        return False
    return (parsed.registry, parsed.repository, parsed.tag) == (
        ref.registry,
        ref.repository,
        ref.tag,
    )


def running_now(scans: Iterable[ScanView], ref: ImageRef) -> dict[Digest, list[Runner]]:
    """For each digest of `ref`, the workload containers whose pods run it in the latest scans."""
    found: dict[Digest, list[Runner]] = {}
    for scan in sorted(scans, key=lambda s: s.cluster):
        for finding in scan.workloads:
            if not _same_tag(finding.image, ref):
                continue
            counts: dict[Digest, int] = {}
            for pod in finding.pods:
                if pod.digest is not None and not pod.digest.local:
                    counts[pod.digest.digest] = counts.get(pod.digest.digest, 0) + 1
            for digest, pods in counts.items():
                found.setdefault(digest, []).append(
                    Runner(scan.cluster, str(finding.key), finding.container, pods)
                )
    return found
