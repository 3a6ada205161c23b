"""The post-deploy verdict: a finished rollout whose ready pods all run what the tag says.

Platform for platform, by the same rule as skew (ScanContext.same_platform_image): a pod
passes when it runs the target's build, or the very platform image the target lists for its
node's platform; so pods on amd64 and arm64 nodes reporting their own children, or an index
re-pushed with only attestations changed, pass, and one amd64 pod on an older amd64 child fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tagwatch.core.digests import Digest, Platform
from tagwatch.core.moves import BuildInfo, TagHistory
from tagwatch.core.references import ImageRef
from tagwatch.core.rollouts import RolloutStatus, rollout_status
from tagwatch.core.skew_fix import pin_line, restart_command
from tagwatch.core.skew_scan import ScanContext, containers_of, template_spec
from tagwatch.core.workloads import (
    ContainerRun,
    ImageKey,
    NodeRecord,
    PodRecord,
    Workload,
    WorkloadKey,
)

__all__ = ["ContainerVerdict", "PodCheck", "Verdict", "judge_rollout"]


@dataclass(frozen=True, slots=True)
class PodCheck:
    """One ready pod's container against the target: what it runs on its node's platform."""

    name: str
    node: str | None
    platform: Platform | None  # the node's, when the cluster said
    digest: ImageKey  # the build it runs (an index for a child)
    platform_image: Digest | None  # what it runs on its platform, when that can be told
    expected_image: Digest | None  # what the target runs on that platform, when known
    current: bool  # runs the target's build or its very platform image

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "node": self.node,
            "platform": str(self.platform) if self.platform else None,
            "digest": str(self.digest),
            "platform_image": str(self.platform_image) if self.platform_image else None,
            "expected_platform_image": str(self.expected_image) if self.expected_image else None,
            "current": self.current,
        }


@dataclass(frozen=True, slots=True)
class ContainerVerdict:
    """One container of a verified workload: what its ready pods run and what they should."""

    container: str
    image: str
    expected: Digest | None
    digests: Mapping[ImageKey, tuple[str, ...]]
    passed: bool
    problem: str | None = None
    fix: tuple[str, ...] = ()
    pods: tuple[PodCheck, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "image": self.image,
            "expected": str(self.expected) if self.expected else None,
            "digests": {str(d): list(p) for d, p in self.digests.items()},
            "passed": self.passed,
            "problem": self.problem,
            "fix": list(self.fix),
            "pods": [p.to_json() for p in self.pods],
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The post-deploy gate: passed only if the rollout completed and every container checks out."""

    key: WorkloadKey
    rollout: RolloutStatus
    containers: tuple[ContainerVerdict, ...]
    ready_pods: int

    @property
    def passed(self) -> bool:
        return (
            self.rollout.complete and self.ready_pods > 0 and all(c.passed for c in self.containers)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "passed": self.passed,
            "rollout": {"complete": self.rollout.complete, "reason": self.rollout.reason},
            "ready_pods": self.ready_pods,
            "containers": [c.to_json() for c in self.containers],
        }


def judge_rollout(
    workload: Workload,
    histories: Mapping[ImageRef, TagHistory],
    index_of: Mapping[Digest, Digest],
    now: datetime,
    *,
    builds: Mapping[Digest, BuildInfo] | None = None,
    nodes: Sequence[NodeRecord] = (),
) -> Verdict:
    """Every ready pod must run what the tag points to now (or the pin), platform for platform.

    `nodes` give each pod's platform; without them (or for a node that does not say) a pod
    is compared by build only: its digest, or an index and its children. Init containers
    count only while running (sidecars); finished ones are not judged.
    """
    ctx = ScanContext(histories, index_of, builds or {}, nodes, now)
    rollout = rollout_status(workload.controller)
    ready = [p for p in workload.pods if p.ready]
    verdicts: list[ContainerVerdict] = []
    for container, _init in containers_of(workload):
        spec = template_spec(workload, container)
        image = spec.image if spec else None
        runs: list[tuple[PodRecord, ContainerRun]] = []
        for pod in ready:
            run = next((c for c in pod.containers if c.name == container), None)
            if run is None or (run.init and run.state != "running"):
                continue
            image = image or run.image
            runs.append((pod, run))
        if image is None or not runs:
            continue
        verdicts.append(_container_verdict(ctx, workload.key, container, image, runs))
    return Verdict(workload.key, rollout, tuple(verdicts), len(ready))


def _expected(ctx: ScanContext, ref: ImageRef) -> Digest | None:
    """The digest the pods should run: the pin, else what the tag points to now."""
    return ref.digest if ref.digest is not None else ctx.now_digest(ctx.history(ref))


def _checks(
    ctx: ScanContext, runs: Sequence[tuple[PodRecord, ContainerRun]], expected: Digest | None
) -> tuple[dict[ImageKey, list[str]], list[str], list[PodCheck]]:
    """Each pod's build (by digest), the pods with no imageID, and each pod platform-true."""
    digests: dict[ImageKey, list[str]] = {}
    unknown: list[str] = []
    checks: list[PodCheck] = []
    want = ctx.canon(expected) if expected is not None else None
    for pod, run in runs:
        running = run.running
        if running is None:
            unknown.append(pod.name)
            continue
        platform = ctx.platforms.get(pod.node) if pod.node else None
        if running.key.local:
            digests.setdefault(running.key, []).append(pod.name)
            checks.append(PodCheck(pod.name, pod.node, platform, running.key, None, None, False))
            continue
        key = ImageKey(ctx.canon(running.digest, expected))
        digests.setdefault(key, []).append(pod.name)
        identity = ctx.identity(running.digest, pod.node)
        target = ctx.target_image(expected, platform) if expected is not None else None
        current = key.digest == want or ctx.same_platform_image(identity, expected)
        checks.append(PodCheck(pod.name, pod.node, platform, key, identity.image, target, current))
    return digests, unknown, checks


def _off_platform(off: Sequence[PodCheck], familiar: str) -> str:
    """What the pods that miss the target run, platform for platform, when that can be told."""
    told = [
        f"{p.name} on {p.platform} runs {p.platform_image.short}, {familiar} has "
        f"{p.expected_image.short} there"
        for p in off
        if p.platform is not None and p.platform_image is not None and p.expected_image
    ]
    return f" ({'; '.join(told)})" if told else ""


def _container_verdict(
    ctx: ScanContext,
    key: WorkloadKey,
    container: str,
    image: str,
    runs: Sequence[tuple[PodRecord, ContainerRun]],
) -> ContainerVerdict:
    ref = ctx.ref(image)
    expected = _expected(ctx, ref) if ref is not None else None
    digests, unknown, checks = _checks(ctx, runs, expected)
    frozen = {k: tuple(v) for k, v in digests.items()}
    pods = tuple(checks)

    def failed(problem: str, fix: tuple[str, ...] = ()) -> ContainerVerdict:
        return ContainerVerdict(container, image, expected, frozen, False, problem, fix, pods)

    if ref is None:
        return failed(f"image {image!r} is invalid")
    if expected is None:
        return failed(f"no recorded digest for {ref.familiar}: run `tagwatch check {ref.familiar}`")
    pin = pin_line(ref, expected)
    restart = restart_command(key)
    if unknown:
        return failed(f"ready pods report no imageID: {', '.join(unknown)}", (restart,))
    off = [p for p in checks if not p.current]
    familiar = ctx.familiar(ref)
    if off and len(frozen) > 1:
        spread = "; ".join(f"{d} on {', '.join(frozen[d])}" for d in sorted(frozen, key=str))
        return failed(
            f"ready pods run {len(frozen)} different digests: {spread}"
            + _off_platform(off, familiar),
            (f"{restart} with imagePullPolicy Always", pin),
        )
    if off:
        got = next(iter(frozen))
        what = "the pinned digest" if ref.digest else f"what {familiar} points to now"
        return failed(
            f"ready pods run {got}, not {what} ({expected})" + _off_platform(off, familiar),
            (f"{restart} with imagePullPolicy Always", pin),
        )
    return ContainerVerdict(container, image, expected, frozen, bool(frozen), pods=pods)
