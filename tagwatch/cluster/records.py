"""The API's objects (as the views lightkube decodes them into) turned into core records."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import lru_cache

from tagwatch.cluster.views import (
    Container,
    ContainerStatus,
    ControllerSpec,
    ControllerView,
    NodeView,
    ObjectMeta,
    PodSpec,
    PodView,
    ReplicaSetView,
)
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


def _owner(meta: ObjectMeta) -> Owner | None:
    for ref in meta.ownerReferences or ():
        if ref.controller:
            return _owner_of(ref.kind, ref.name)
    return None


@lru_cache(maxsize=16384)
def _owner_of(kind: str, name: str) -> Owner:
    """One Owner value for the many pods of one ReplicaSet or StatefulSet (they are frozen)."""
    return Owner(kind, name)


@lru_cache(maxsize=16384)
def _spec(name: str, image: str, raw_policy: str | None, init: bool) -> ContainerSpec:
    """A container of a template, built once for all the pods of the template (it is frozen)."""
    policy: PullPolicy | None = None
    if raw_policy:
        try:
            policy = PullPolicy(raw_policy)
        except ValueError:
            policy = None
    if policy is None:
        policy = default_pull_policy(parse_image(image))
    return ContainerSpec(name, image, policy, init)


def _specs(spec: PodSpec | None) -> tuple[ContainerSpec, ...]:
    if spec is None:
        return ()

    def one(c: Container, init: bool) -> ContainerSpec:
        return _spec(c.name, c.image or "", c.imagePullPolicy, init)

    return (
        *(one(c, True) for c in spec.initContainers or ()),
        *(one(c, False) for c in spec.containers or ()),
    )


def _run(spec: ContainerSpec, status: ContainerStatus | None) -> ContainerRun:
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


def pod_record(pod: PodView) -> PodRecord:
    """A Pod as a PodRecord: every container (init, sidecar, main) by name."""
    meta = pod.metadata or ObjectMeta()
    status = pod.status
    specs = _specs(pod.spec)
    statuses: dict[tuple[bool, str], ContainerStatus] = {}
    ready = False
    if status is not None:
        for s in status.initContainerStatuses or ():
            statuses[(True, s.name)] = s
        for s in status.containerStatuses or ():
            statuses[(False, s.name)] = s
        ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or ())
    labels = meta.labels or {}
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


def replicaset_record(rs: ReplicaSetView) -> ReplicaSetRecord:
    meta = rs.metadata or ObjectMeta()
    return ReplicaSetRecord(
        namespace=meta.namespace or "",
        name=meta.name or "",
        owner=_owner(meta),
        template_hash=(meta.labels or {}).get("pod-template-hash"),
        replicas=(rs.spec.replicas if rs.spec and rs.spec.replicas is not None else 1),
    )


def controller_record(obj: ControllerView) -> ControllerRecord:
    """Deployments, StatefulSets, DaemonSets, Jobs and CronJobs with their rollout fields."""
    kind = obj.KIND
    meta = obj.metadata or ObjectMeta()
    spec = obj.spec or ControllerSpec()
    generation = meta.generation or 0
    if kind == "CronJob":
        job = spec.jobTemplate.spec if spec.jobTemplate else None
        template = job.template if job else None
    else:
        template = spec.template
    record = ControllerRecord(
        kind=kind,
        namespace=meta.namespace or "",
        name=meta.name or "",
        containers=_specs(template.spec if template else None),
        owner=_owner(meta),
        generation=generation,
    )
    status = obj.status
    if kind == "CronJob":
        return record
    if kind == "Job" or status is None:
        return replace(record, observed_generation=generation)
    observed = status.observedGeneration or 0
    if kind == "DaemonSet":
        return replace(
            record,
            observed_generation=observed,
            replicas=status.desiredNumberScheduled or 0,
            updated_replicas=status.updatedNumberScheduled or 0,
            available_replicas=status.numberAvailable or 0,
            ready_replicas=status.numberReady or 0,
        )
    record = replace(
        record,
        observed_generation=observed,
        replicas=spec.replicas if spec.replicas is not None else 1,
        updated_replicas=status.updatedReplicas or 0,
        available_replicas=status.availableReplicas or 0,
        ready_replicas=status.readyReplicas or 0,
        status_replicas=status.replicas or 0,
    )
    if kind == "StatefulSet":
        strategy = spec.updateStrategy
        rolling = strategy.rollingUpdate if strategy is not None else None
        return replace(
            record,
            current_revision=status.currentRevision,
            update_revision=status.updateRevision,
            partition=(rolling.partition or 0) if rolling is not None else 0,
        )
    progressing = next((c.reason for c in status.conditions or () if c.type == "Progressing"), None)
    return replace(
        record,
        progressing_reason=progressing,
        paused=bool(spec.paused),
        progress_deadline=spec.progressDeadlineSeconds,
    )


def _platform(node: NodeView) -> Platform | None:
    """The node's platform: nodeInfo's OS and architecture (else the well-known labels), and
    the variant from VARIANT_LABEL, since Kubernetes reports none."""
    labels = (node.metadata.labels if node.metadata else None) or {}
    info = node.status.nodeInfo if node.status is not None else None
    os_name = (info.operatingSystem if info else None) or labels.get("kubernetes.io/os")
    arch = (info.architecture if info else None) or labels.get("kubernetes.io/arch")
    if not os_name or not arch:
        return None
    return Platform(os_name, arch, labels.get(VARIANT_LABEL, ""))


def node_record(node: NodeView) -> NodeRecord:
    status = node.status
    images: tuple[tuple[str, ...], ...] = ()
    ready = True
    if status is not None:
        images = tuple(tuple(i.names or ()) for i in status.images or ())
        ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or ())
    name = (node.metadata.name if node.metadata else None) or ""
    return NodeRecord(name=name, images=images, ready=ready, platform=_platform(node))
