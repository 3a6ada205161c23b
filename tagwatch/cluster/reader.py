"""Reading the cluster with lightkube (list/get only) into core records, translating its errors."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

import httpx2
import msgspec
from lightkube import AsyncClient, operators
from lightkube.core.exceptions import ApiError
from lightkube.core.exceptions import ConfigError as LightkubeConfigError
from lightkube.resources.apps_v1 import DaemonSet, Deployment, ReplicaSet, StatefulSet
from lightkube.resources.batch_v1 import CronJob, Job
from lightkube.resources.core_v1 import Node, Pod

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
    Snapshot,
    default_pull_policy,
    normalise_image_id,
    parse_image,
)
from tagwatch.errors import ClusterAccessDenied, ClusterError, ClusterUnreachable, ConfigError

__all__ = [
    "KINDS",
    "VARIANT_LABEL",
    "parse_selector",
    "read_controller",
    "read_snapshot",
    "translate_errors",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Kinds the scan reads, by the names `verify` accepts.
KINDS: dict[str, str] = {
    "deployment": "Deployment",
    "deployments": "Deployment",
    "deploy": "Deployment",
    "statefulset": "StatefulSet",
    "statefulsets": "StatefulSet",
    "sts": "StatefulSet",
    "daemonset": "DaemonSet",
    "daemonsets": "DaemonSet",
    "ds": "DaemonSet",
}
#: The node label that names its CPU variant (`v7`, `v8`): Kubernetes reports none, and an
#: index may carry `linux/arm/v6` and `linux/arm/v7` side by side.
VARIANT_LABEL = "tagwatch.io/platform-variant"
_RESOURCES: dict[str, Any] = {
    "Deployment": Deployment,
    "StatefulSet": StatefulSet,
    "DaemonSet": DaemonSet,
    "Job": Job,
    "CronJob": CronJob,
}
_PLURAL = {
    Pod: "pods",
    Node: "nodes",
    ReplicaSet: "replicasets",
    Deployment: "deployments",
    StatefulSet: "statefulsets",
    DaemonSet: "daemonsets",
    Job: "jobs",
    CronJob: "cronjobs",
}
_GROUP = {Pod: "", Node: "", Job: "batch", CronJob: "batch"}


def _where(namespace: str | None) -> str:
    return f"namespace {namespace!r}" if namespace else "all namespaces"


def _server(client: AsyncClient) -> str:
    try:
        return str(client.config.cluster.server)
    except AttributeError:
        return "the API server"


@asynccontextmanager
async def translate_errors(
    client: AsyncClient, what: str, resource: str, namespace: str | None
) -> AsyncIterator[None]:
    """Turn lightkube/httpx2 failures into ClusterUnreachable, ClusterAccessDenied, ConfigError."""
    try:
        yield
    except ApiError as exc:
        raise _api_error(
            client, exc.status.code, exc.status.message, what, resource, namespace
        ) from exc
    except httpx2.HTTPStatusError as exc:
        code = exc.response.status_code
        raise _api_error(client, code, exc.response.text[:200], what, resource, namespace) from exc
    except (httpx2.ConnectError, httpx2.TimeoutException, httpx2.NetworkError) as exc:
        raise ClusterUnreachable(
            f"cannot reach the Kubernetes API at {_server(client)} ({type(exc).__name__}: "
            f"{exc or 'no answer'}): check --context/--kubeconfig and that the cluster is up"
        ) from exc
    except httpx2.HTTPError as exc:
        raise ClusterUnreachable(
            f"talking to the Kubernetes API at {_server(client)} failed: {exc}"
        ) from exc
    except msgspec.ValidationError as exc:
        raise ClusterError(
            f"the Kubernetes API at {_server(client)} sent a {resource} object tagwatch cannot "
            f"read: {exc}"
        ) from exc
    except LightkubeConfigError as exc:  # an exec credential plugin that failed, a token file gone
        raise ConfigError(f"Kubernetes credentials: {str(exc).strip()}") from exc


def _api_error(
    client: AsyncClient,
    code: int | None,
    message: str | None,
    what: str,
    resource: str,
    namespace: str | None,
) -> ClusterError:
    detail = (message or "").strip().splitlines()[0] if message else ""
    if code in (401, 403):
        kind = "not authenticated (401)" if code == 401 else "denied (403)"
        return ClusterAccessDenied(
            f"Kubernetes API {kind} to {what} {resource} in {_where(namespace)}"
            f"{': ' + detail if detail else ''}; tagwatch needs get/list/watch on pods, "
            "replicasets, deployments, statefulsets, daemonsets, jobs, cronjobs and nodes "
            "(apply deploy/base/rbac.yaml)"
        )
    return ClusterError(
        f"Kubernetes API answered {code} to {what} {resource} in {_where(namespace)}: {detail}"
    )


async def _list(
    client: AsyncClient,
    res: Any,
    *,
    namespace: str | None,
    labels: Any,
    chunk_size: int,
    convert: Callable[[Any], T],
) -> list[T]:
    plural = _PLURAL[res]
    scope = namespace if namespace else "*"
    out: list[T] = []
    try:
        async with translate_errors(client, "list", plural, namespace):
            if res is Node:
                iterator = client.list(res, chunk_size=chunk_size)
            else:
                iterator = client.list(res, namespace=scope, chunk_size=chunk_size, labels=labels)
            async for obj in iterator:
                out.append(convert(obj))
    except ClusterError as exc:
        cause = exc.__cause__
        if res is not Pod and isinstance(cause, ApiError) and cause.status.code == 404:
            # A kind this API server does not serve (batch/v1 CronJob before 1.21): none of it.
            log.warning("the API server does not serve %s; reading none", plural)
            return []
        raise
    return out


async def read_snapshot(
    client: AsyncClient,
    *,
    namespace: str | None = None,
    selector: str | None = None,
    nodes: bool = True,
    chunk_size: int = 500,
) -> Snapshot:
    """Pods (filtered by `selector`), their owners and the nodes, listed concurrently, paged."""
    labels = parse_selector(selector) if selector else None

    def run(res: Any, convert: Callable[[Any], T], lab: Any = None) -> Awaitable[list[T]]:
        return _list(
            client, res, namespace=namespace, labels=lab, chunk_size=chunk_size, convert=convert
        )

    tasks: list[Awaitable[list[Any]]] = [
        run(Pod, pod_record, labels),
        run(ReplicaSet, replicaset_record),
        run(Deployment, controller_record),
        run(StatefulSet, controller_record),
        run(DaemonSet, controller_record),
        run(Job, controller_record),
        run(CronJob, controller_record),
    ]
    if nodes:
        tasks.append(run(Node, node_record))
    # Every list runs to the end, so a failure is reported deterministically (the first kind
    # in this order) and no failed task is left unretrieved.
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    results: list[list[Any]] = [o for o in outcomes if not isinstance(o, BaseException)]
    controllers: list[ControllerRecord] = [c for group in results[2:7] for c in group]
    return Snapshot(
        pods=tuple(results[0]),
        replicasets=tuple(results[1]),
        controllers=tuple(controllers),
        nodes=tuple(results[7]) if nodes else (),
    )


async def read_controller(
    client: AsyncClient, kind: str, name: str, namespace: str
) -> ControllerRecord | None:
    """One Deployment/StatefulSet/DaemonSet by name; None when it does not exist."""
    res = _RESOURCES[kind]
    try:
        async with translate_errors(client, "get", _PLURAL[res], namespace):
            obj = await client.get(res, name, namespace=namespace)
    except ClusterError as exc:
        if isinstance(exc.__cause__, ApiError) and exc.__cause__.status.code == 404:
            return None
        raise
    return controller_record(obj)


# --- lightkube models -> core records ----------------------------------------------------


_TERM = re.compile(
    r"\s*(!?)([A-Za-z0-9_./-]+)"
    r"(?:\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*"
)


def parse_selector(raw: str) -> list[tuple[str, Any]]:
    """`app=web,tier!=db,env in (a,b),!legacy` -> lightkube selector pairs, or ConfigError."""
    pairs: list[tuple[str, Any]] = []
    pos = 0
    text = raw.strip()
    while pos < len(text):
        match = _TERM.match(text, pos)
        if match is None or match.end() == pos:
            raise ConfigError(f"label selector {raw!r} is not valid near {text[pos:]!r}")
        negate, key, op, value, set_op, values = match.groups()
        if negate:
            if op or set_op:
                raise ConfigError(f"label selector {raw!r}: '!' takes a key only")
            pairs.append((key, operators.not_exists()))
        elif op in ("=", "=="):
            pairs.append((key, operators.equal(value or "")))
        elif op == "!=":
            pairs.append((key, operators.not_equal(value or "")))
        elif set_op:
            items = [v.strip() for v in values.split(",") if v.strip()]
            pairs.append((key, operators.in_(items) if set_op == "in" else operators.not_in(items)))
        else:
            pairs.append((key, operators.exists()))
        pos = match.end()
        if pos < len(text):
            if text[pos] != ",":
                raise ConfigError(f"label selector {raw!r} is not valid near {text[pos:]!r}")
            pos += 1
    return pairs


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
