"""lightkube models turned into core records: pods, ReplicaSets, controllers, nodes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tagwatch.core.digests import Platform
from tagwatch.core.workloads import (
    ContainerRun,
    ContainerSpec,
    ControllerRecord,
    NodeRecord,
    Owner,
    PodRecord,
    PullPolicy,
    ReplicaSetRecord,
    default_pull_policy,
    normalise_image_id,
    parse_image,
)

__all__ = [
    "VARIANT_LABEL",
    "controller_record",
    "node_record",
    "pod_record",
    "replicaset_record",
]

#: The node label that names its CPU variant (`v7`, `v8`): Kubernetes reports none, and an
#: index may carry `linux/arm/v6` and `linux/arm/v7` side by side.
VARIANT_LABEL = "tagwatch.io/platform-variant"


def _owner(meta: Any) -> Owner | None:
    for ref in meta.ownerReferences or ():
        if ref.controller:
            return Owner(ref.kind, ref.name)
    return None


def _policy(raw: str | None, image: str) -> PullPolicy:
    if raw:
        try:
            return PullPolicy(raw)
        except ValueError:
            pass
    return default_pull_policy(parse_image(image))


def _specs(spec: Any) -> tuple[ContainerSpec, ...]:
    if spec is None:
        return ()
    out: list[ContainerSpec] = []
    for c in spec.initContainers or ():
        out.append(
            ContainerSpec(c.name, c.image or "", _policy(c.imagePullPolicy, c.image or ""), True)
        )
    for c in spec.containers or ():
        out.append(ContainerSpec(c.name, c.image or "", _policy(c.imagePullPolicy, c.image or "")))
    return tuple(out)


def _run(spec: ContainerSpec, status: Any) -> ContainerRun:
    if status is None:
        return ContainerRun(
            spec.name, spec.image, spec.pull_policy, None, "unknown", init=spec.init
        )
    state = "unknown"
    started: datetime | None = None
    if status.state is not None:
        if status.state.running is not None:
            state, started = "running", status.state.running.startedAt
        elif status.state.terminated is not None:
            state, started = "terminated", status.state.terminated.startedAt
        elif status.state.waiting is not None:
            state = "waiting"
    return ContainerRun(
        name=spec.name,
        image=spec.image,
        pull_policy=spec.pull_policy,
        running=normalise_image_id(status.imageID),
        state=state,
        started_at=started,
        ready=bool(status.ready),
        init=spec.init,
        restart_count=status.restartCount or 0,
    )


def pod_record(pod: Any) -> PodRecord:
    """A lightkube Pod as a PodRecord: every container (init, sidecar, main) by name."""
    meta = pod.metadata
    status = pod.status
    specs = _specs(pod.spec)
    statuses: dict[tuple[bool, str], Any] = {}
    if status is not None:
        for s in status.initContainerStatuses or ():
            statuses[(True, s.name)] = s
        for s in status.containerStatuses or ():
            statuses[(False, s.name)] = s
    ready = False
    if status is not None:
        ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or ())
    labels = dict(meta.labels or {})
    return PodRecord(
        namespace=meta.namespace or "",
        name=meta.name or "",
        node=pod.spec.nodeName if pod.spec else None,
        owner=_owner(meta),
        containers=tuple(_run(s, statuses.get((s.init, s.name))) for s in specs),
        labels=labels,
        template_hash=labels.get("pod-template-hash") or labels.get("controller-revision-hash"),
        phase=(status.phase if status else None) or "Unknown",
        ready=ready,
        start_time=status.startTime if status else None,
        created_at=meta.creationTimestamp,
    )


def replicaset_record(rs: Any) -> ReplicaSetRecord:
    meta = rs.metadata
    return ReplicaSetRecord(
        namespace=meta.namespace or "",
        name=meta.name or "",
        owner=_owner(meta),
        template_hash=(meta.labels or {}).get("pod-template-hash"),
        replicas=(rs.spec.replicas if rs.spec and rs.spec.replicas is not None else 1),
    )


def controller_record(obj: Any) -> ControllerRecord:
    """Deployments, StatefulSets, DaemonSets, Jobs and CronJobs with their rollout fields."""
    kind = type(obj).__name__
    meta = obj.metadata
    spec = obj.spec
    status = obj.status
    base: dict[str, Any] = {
        "kind": kind,
        "namespace": meta.namespace or "",
        "name": meta.name or "",
        "owner": _owner(meta),
        "generation": meta.generation or 0,
    }
    if kind == "CronJob":
        template = spec.jobTemplate.spec.template if spec and spec.jobTemplate.spec else None
        return ControllerRecord(containers=_specs(template.spec if template else None), **base)
    template_spec = spec.template.spec if spec and spec.template else None
    containers = _specs(template_spec)
    if kind == "Job" or status is None:
        return ControllerRecord(
            containers=containers, observed_generation=base["generation"], **base
        )
    observed = status.observedGeneration or 0
    if kind == "DaemonSet":
        return ControllerRecord(
            containers=containers,
            observed_generation=observed,
            replicas=status.desiredNumberScheduled or 0,
            updated_replicas=status.updatedNumberScheduled or 0,
            available_replicas=status.numberAvailable or 0,
            ready_replicas=status.numberReady or 0,
            **base,
        )
    desired = spec.replicas if spec.replicas is not None else 1
    if kind == "StatefulSet":
        partition = 0
        strategy = spec.updateStrategy
        if strategy is not None and strategy.rollingUpdate is not None:
            partition = strategy.rollingUpdate.partition or 0
        return ControllerRecord(
            containers=containers,
            observed_generation=observed,
            replicas=desired,
            updated_replicas=status.updatedReplicas or 0,
            available_replicas=status.availableReplicas or 0,
            ready_replicas=status.readyReplicas or 0,
            status_replicas=status.replicas or 0,
            current_revision=status.currentRevision,
            update_revision=status.updateRevision,
            partition=partition,
            **base,
        )
    progressing = next((c.reason for c in status.conditions or () if c.type == "Progressing"), None)
    return ControllerRecord(
        containers=containers,
        observed_generation=observed,
        replicas=desired,
        updated_replicas=status.updatedReplicas or 0,
        available_replicas=status.availableReplicas or 0,
        ready_replicas=status.readyReplicas or 0,
        status_replicas=status.replicas or 0,
        progressing_reason=progressing,
        paused=bool(spec.paused),
        progress_deadline=spec.progressDeadlineSeconds,
        **base,
    )


def _platform(node: Any) -> Platform | None:
    """The node's platform: nodeInfo's OS and architecture (else the well-known labels), and
    the variant from VARIANT_LABEL, since Kubernetes reports none."""
    labels = node.metadata.labels or {}
    info = node.status.nodeInfo if node.status is not None else None
    os_name = (info.operatingSystem if info else None) or labels.get("kubernetes.io/os")
    arch = (info.architecture if info else None) or labels.get("kubernetes.io/arch")
    if not os_name or not arch:
        return None
    return Platform(os_name, arch, labels.get(VARIANT_LABEL, ""))


def node_record(node: Any) -> NodeRecord:
    status = node.status
    images: tuple[tuple[str, ...], ...] = ()
    ready = True
    if status is not None:
        images = tuple(tuple(i.names or ()) for i in status.images or ())
        ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or ())
    return NodeRecord(
        name=node.metadata.name or "", images=images, ready=ready, platform=_platform(node)
    )
