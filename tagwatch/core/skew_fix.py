"""Remediation text: the one restart rule and the pin line, for findings, verdicts and alerts."""

from __future__ import annotations

from tagwatch.core.digests import Digest
from tagwatch.core.references import ImageRef
from tagwatch.core.workloads import PullPolicy, WorkloadKey

__all__ = [
    "pin_line",
    "restart_command",
    "rollout_restart",
    "skew_remedies",
    "stuck_remedies",
]

#: Kinds `kubectl rollout restart` accepts, as kubectl spells them.
_RESTARTABLE = frozenset({"deployment", "statefulset", "daemonset"})


def rollout_restart(kind: str, name: str, namespace: str) -> str | None:
    """`kubectl rollout restart kind/name -n ns`, or None for a kind it does not restart."""
    if kind.lower() not in _RESTARTABLE:
        return None
    return f"kubectl rollout restart {kind.lower()}/{name} -n {namespace}"


def restart_command(key: WorkloadKey) -> str:
    """How to make every pod of the workload start again, as the user would type it."""
    restart = rollout_restart(key.kind, key.name, key.namespace)
    if restart is not None:
        return restart
    if key.kind == "Pod":
        return f"re-create pod {key.name} -n {key.namespace} (kubectl delete pod, then apply it)"
    return f"kubectl delete pods of {key.kind.lower()}/{key.name} -n {key.namespace}"


def pin_line(ref: ImageRef, digest: Digest) -> str:
    """`pin the digest: image: repo:tag@sha256:…`, as `tagwatch pin` writes it."""
    return f"pin the digest: image: {ref.without_digest().with_digest(digest)}"


def skew_remedies(key: WorkloadKey, ref: ImageRef, policy: PullPolicy, now: Digest) -> list[str]:
    """The fix of a skewed, stale or at-risk container: restart (with the policy caveat), pin."""
    restart = restart_command(key)
    if policy is not PullPolicy.ALWAYS:
        restart += (
            f" (with imagePullPolicy Always: under {policy.value} nodes holding the old bytes "
            "start them again)"
        )
    return [restart, pin_line(ref, now)]


def stuck_remedies(key: WorkloadKey, paused: bool) -> list[str]:
    """The fix of a rollout that gave up: see why, then resume, undo, or retry."""
    target = f"{key.kind.lower()}/{key.name} -n {key.namespace}"
    fixes = [f"kubectl rollout status {target} (see what holds it)"]
    if paused:
        fixes.append(f"kubectl rollout resume {target} (finish the rollout)")
    fixes.append(f"kubectl rollout undo {target} (back to the last template that worked)")
    fixes.append(f"kubectl rollout restart {target} (retry once the cause is fixed)")
    return fixes
