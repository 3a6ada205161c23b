"""The post-deploy verdict: a finished rollout whose ready pods all run what the tag says."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, TagHistory
from tagwatch.core.references import ImageRef
from tagwatch.core.rollouts import RolloutStatus, rollout_status
from tagwatch.core.skew_fix import pin_line, restart_command
from tagwatch.core.skew_scan import ScanContext, containers_of, template_spec
from tagwatch.core.workloads import ContainerRun, ImageKey, Workload, WorkloadKey

__all__ = ["ContainerVerdict", "Verdict", "judge_rollout"]


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

    def to_json(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "image": self.image,
            "expected": str(self.expected) if self.expected else None,
            "digests": {str(d): list(p) for d, p in self.digests.items()},
            "passed": self.passed,
            "problem": self.problem,
            "fix": list(self.fix),
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
) -> Verdict:
    """Every ready pod must run one digest, equal to what the tag points to now (or the pin).

    Init containers count only while running (sidecars); finished ones are not judged.
    """
    ctx = ScanContext(histories, index_of, builds or {}, (), now)
    rollout = rollout_status(workload.controller)
    ready = [p for p in workload.pods if p.ready]
    verdicts: list[ContainerVerdict] = []
    for container, _init in containers_of(workload):
        spec = template_spec(workload, container)
        image = spec.image if spec else None
        runs: list[tuple[str, ContainerRun]] = []
        for pod in ready:
            run = next((c for c in pod.containers if c.name == container), None)
            if run is None or (run.init and run.state != "running"):
                continue
            image = image or run.image
            runs.append((pod.name, run))
        if image is None or not runs:
            continue
        ref = ctx.ref(image)
        target = ref.digest if ref is not None and ref.digest else None
        if ref is not None and target is None:
            target = ctx.now_digest(ctx.history(ref))
        digests: dict[ImageKey, list[str]] = {}
        unknown: list[str] = []
        for pod_name, run in runs:
            if run.running is None:
                unknown.append(pod_name)
            elif run.running.key.local:
                digests.setdefault(run.running.key, []).append(pod_name)
            else:
                key = ImageKey(ctx.canon(run.running.digest, target))
                digests.setdefault(key, []).append(pod_name)
        verdicts.append(_container_verdict(ctx, workload.key, container, image, digests, unknown))
    return Verdict(workload.key, rollout, tuple(verdicts), len(ready))


def _container_verdict(
    ctx: ScanContext,
    key: WorkloadKey,
    container: str,
    image: str,
    digests: Mapping[ImageKey, list[str]],
    unknown: Sequence[str],
) -> ContainerVerdict:
    frozen = {k: tuple(v) for k, v in digests.items()}
    ref = ctx.ref(image)
    if ref is None:
        return ContainerVerdict(
            container, image, None, frozen, False, f"image {image!r} is invalid"
        )
    expected: Digest | None
    if ref.digest is not None:
        expected = ref.digest
    else:
        history = ctx.history(ref)
        expected = ctx.now_digest(history)
        if expected is None:
            return ContainerVerdict(
                container,
                image,
                None,
                frozen,
                False,
                f"no recorded digest for {ref.familiar}: run `tagwatch check {ref.familiar}`",
            )
    want = ImageKey(ctx.canon(expected))
    pin = pin_line(ref, expected)
    restart = restart_command(key)
    if unknown:
        return ContainerVerdict(
            container,
            image,
            expected,
            frozen,
            False,
            f"ready pods report no imageID: {', '.join(unknown)}",
            (restart,),
        )
    if len(frozen) > 1:
        spread = "; ".join(f"{d} on {', '.join(frozen[d])}" for d in sorted(frozen, key=str))
        return ContainerVerdict(
            container,
            image,
            expected,
            frozen,
            False,
            f"ready pods run {len(frozen)} different digests: {spread}",
            (f"{restart} with imagePullPolicy Always", pin),
        )
    if frozen and want not in frozen:
        got = next(iter(frozen))
        what = "the pinned digest" if ref.digest else f"what {ctx.familiar(ref)} points to now"
        return ContainerVerdict(
            container,
            image,
            expected,
            frozen,
            False,
            f"ready pods run {got}, not {what} ({expected})",
            (f"{restart} with imagePullPolicy Always", pin),
        )
    return ContainerVerdict(container, image, expected, frozen, bool(frozen))
