"""Rollouts: kubectl's rule for a finished rollout, and the rollouts that gave up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tagwatch.core.workloads import ControllerRecord, Workload

__all__ = ["DEFAULT_DEADLINE", "RolloutStatus", "rollout_status", "stuck_rollout"]


@dataclass(frozen=True, slots=True)
class RolloutStatus:
    complete: bool
    reason: str


def rollout_status(controller: ControllerRecord | None) -> RolloutStatus:
    """kubectl's `rollout status` rule for Deployments, StatefulSets and DaemonSets."""
    if controller is None:
        return RolloutStatus(True, "no controller to roll out")
    c = controller
    if c.generation > c.observed_generation:
        return RolloutStatus(False, "waiting for the controller to observe the new spec")
    if c.kind == "Deployment":
        if c.progressing_reason == "ProgressDeadlineExceeded":
            return RolloutStatus(False, f"deployment {c.name!r} exceeded its progress deadline")
        if c.updated_replicas < c.replicas:
            return RolloutStatus(
                False, f"{c.updated_replicas} of {c.replicas} new replicas have been updated"
            )
        if c.status_replicas > c.updated_replicas:
            return RolloutStatus(
                False,
                f"{c.status_replicas - c.updated_replicas} old replicas are pending termination",
            )
        if c.available_replicas < c.updated_replicas:
            return RolloutStatus(
                False,
                f"{c.available_replicas} of {c.updated_replicas} updated replicas are available",
            )
        return RolloutStatus(True, "rollout complete")
    if c.kind == "StatefulSet":
        if c.ready_replicas < c.replicas:
            return RolloutStatus(False, f"{c.ready_replicas} of {c.replicas} pods are ready")
        if c.partition > 0:
            wanted = c.replicas - c.partition
            if c.updated_replicas < wanted:
                return RolloutStatus(False, f"{c.updated_replicas} of {wanted} pods are updated")
            return RolloutStatus(
                True, f"partitioned roll out complete: {c.updated_replicas} new pods"
            )
        if c.update_revision and c.current_revision != c.update_revision:
            return RolloutStatus(False, f"waiting for pods to reach revision {c.update_revision}")
        return RolloutStatus(True, "rollout complete")
    if c.kind == "DaemonSet":
        if c.updated_replicas < c.replicas:
            return RolloutStatus(
                False, f"{c.updated_replicas} of {c.replicas} updated pods are scheduled"
            )
        if c.available_replicas < c.replicas:
            return RolloutStatus(
                False, f"{c.available_replicas} of {c.replicas} updated pods are available"
            )
        return RolloutStatus(True, "rollout complete")
    return RolloutStatus(True, f"{c.kind} has no rollout")


#: How long a StatefulSet or DaemonSet update may go without a new pod before it counts as
#: stuck: they have no progress deadline of their own, so Deployments' default is used.
DEFAULT_DEADLINE = timedelta(seconds=600)


def stuck_rollout(workload: Workload, now: datetime) -> str | None:
    """Why the workload's rollout gave up, or None: still within its deadline, done, or held.

    A Deployment past `progressDeadlineSeconds` (Progressing=False, ProgressDeadlineExceeded)
    or paused before all replicas were updated; a StatefulSet whose update revision has made
    no new pod for the deadline; a DaemonSet likewise short of updated pods. A partitioned
    StatefulSet holds its old pods on purpose and is never stuck.
    """
    c = workload.controller
    if c is None or c.generation > c.observed_generation:
        return None
    status = rollout_status(c)
    if status.complete:
        return None
    if c.kind == "Deployment":
        if c.progressing_reason == "ProgressDeadlineExceeded":
            deadline = c.progress_deadline or int(DEFAULT_DEADLINE.total_seconds())
            return (
                f"the new ReplicaSet made no progress for progressDeadlineSeconds ({deadline}s): "
                "Progressing=False, ProgressDeadlineExceeded"
            )
        if c.paused and workload.group_count > 1:
            return f"paused mid-rollout: {status.reason}"
        return None
    idle = _idle_for(workload, now)
    if idle is None or idle < DEFAULT_DEADLINE:
        return None
    minutes = int(idle.total_seconds() // 60)
    if (
        c.kind == "StatefulSet"
        and c.partition == 0
        and c.update_revision
        and c.current_revision != c.update_revision
    ):
        return (
            f"updateRevision {c.update_revision} is not currentRevision {c.current_revision} "
            f"and no pod has started for {minutes} minutes: {status.reason}"
        )
    if c.kind == "DaemonSet" and c.updated_replicas < c.replicas:
        return (
            f"{c.updated_replicas} of {c.replicas} pods are updated and no pod has started "
            f"for {minutes} minutes"
        )
    return None


def _idle_for(workload: Workload, now: datetime) -> timedelta | None:
    """How long since the workload's newest pod was created: the rollout's last progress."""
    created = [p.created_at for p in workload.pods if p.created_at is not None]
    return now - max(created) if created else None
