"""Rollouts: kubectl's rule for a finished rollout, and the rollouts that gave up."""

from __future__ import annotations

from dataclasses import dataclass

from tagwatch.core.workloads import ControllerRecord

__all__ = ["RolloutStatus", "rollout_status"]


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
