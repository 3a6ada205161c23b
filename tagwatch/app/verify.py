"""The post-deploy gate: wait for a rollout, then check each ready pod runs the tag's bytes.

Platform for platform: each pod against the target's image for its node's platform.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tagwatch.app.skew import join_history
from tagwatch.cluster import KINDS, read_controller, read_snapshot
from tagwatch.core.rollouts import RolloutStatus, rollout_status
from tagwatch.core.skew import Verdict, judge_rollout, tag_refs
from tagwatch.core.times import utcnow
from tagwatch.core.workloads import Workload, WorkloadKey, group_workloads
from tagwatch.errors import ClusterError, UsageError

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store

__all__ = ["VerifyResult", "parse_target", "verify_workload"]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    verdict: Verdict
    timed_out: bool
    waited: float
    refresh_errors: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict.passed and not self.timed_out


def parse_target(raw: str) -> tuple[str, str]:
    """`deployment/web`, `deploy/web`, `sts/db`, `ds/agent` -> (Kind, name), or UsageError."""
    kind, sep, name = raw.partition("/")
    if not sep or not name or "/" in name:
        raise UsageError(f"{raw!r}: name the workload as KIND/NAME, e.g. deployment/web")
    resolved = KINDS.get(kind.lower())
    if resolved is None:
        raise UsageError(
            f"{raw!r}: verify works on deployment, statefulset and daemonset (not {kind!r})"
        )
    return resolved, name


async def verify_workload(
    *,
    cluster: AsyncClient,
    store: Store,
    registry: RegistryClient | None,
    kind: str,
    name: str,
    namespace: str,
    wait_for: float,
    interval: float = 2.0,
    now: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_wait: Callable[[RolloutStatus], None] | None = None,
) -> VerifyResult:
    """Poll until the rollout completes (kubectl's rule) or `wait_for` seconds pass, then judge.

    `on_wait` hears each status read while the rollout is not complete (for a progress line).
    """
    started = clock()
    timed_out = False
    while True:
        controller = await read_controller(cluster, kind, name, namespace)
        if controller is None:
            raise ClusterError(f"{kind.lower()}/{name} does not exist in namespace {namespace!r}")
        rollout = rollout_status(controller)
        if rollout.complete:
            break
        if on_wait is not None:
            on_wait(rollout)
        if clock() - started >= wait_for:
            timed_out = True
            break
        await sleep(interval)
    # Nodes too: their platforms decide which platform image of the target each pod should run.
    snapshot = await read_snapshot(cluster, namespace=namespace)
    key = WorkloadKey(kind, namespace, name)
    workload = next((w for w in group_workloads(snapshot) if w.key == key), None)
    if workload is None:
        workload = Workload(key, controller, (), {})
    elif workload.controller is None:
        workload = Workload(key, controller, workload.pods, workload.groups)
    refs = tag_refs([workload])
    joined, errors = await join_history([workload], refs, store=store, registry=registry, now=now)
    verdict = judge_rollout(
        workload,
        joined.histories,
        joined.index_of,
        now(),
        builds=joined.builds,
        nodes=snapshot.nodes,
    )
    return VerifyResult(verdict, timed_out, clock() - started, tuple(errors))
