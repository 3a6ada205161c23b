"""Reading the cluster with lightkube (list/get only) into core records, translating its errors."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx2
import msgspec
from lightkube import AsyncClient, operators
from lightkube.core.exceptions import ApiError
from lightkube.core.exceptions import ConfigError as LightkubeConfigError

from tagwatch.cluster.records import (
    controller_record,
    node_record,
    pod_record,
    replicaset_record,
)
from tagwatch.cluster.views import (
    CONTROLLER_VIEWS,
    CronJobView,
    DaemonSetView,
    DeploymentView,
    JobView,
    NodeView,
    PodView,
    ReplicaSetView,
    StatefulSetView,
)
from tagwatch.core.workloads import ControllerRecord, Snapshot
from tagwatch.errors import ClusterAccessDenied, ClusterError, ClusterUnreachable, ConfigError

__all__ = [
    "KINDS",
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
_PLURAL: dict[type[Any], str] = {
    PodView: "pods",
    NodeView: "nodes",
    ReplicaSetView: "replicasets",
    DeploymentView: "deployments",
    StatefulSetView: "statefulsets",
    DaemonSetView: "daemonsets",
    JobView: "jobs",
    CronJobView: "cronjobs",
}


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
            if res is NodeView:
                iterator = client.list(res, chunk_size=chunk_size)
            else:
                iterator = client.list(res, namespace=scope, chunk_size=chunk_size, labels=labels)
            async for obj in iterator:
                out.append(convert(obj))
    except ClusterError as exc:
        cause = exc.__cause__
        if res is not PodView and isinstance(cause, ApiError) and cause.status.code == 404:
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
        run(PodView, pod_record, labels),
        run(ReplicaSetView, replicaset_record),
        run(DeploymentView, controller_record),
        run(StatefulSetView, controller_record),
        run(DaemonSetView, controller_record),
        run(JobView, controller_record),
        run(CronJobView, controller_record),
    ]
    if nodes:
        tasks.append(run(NodeView, node_record))
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
    res = CONTROLLER_VIEWS[kind]
    try:
        async with translate_errors(client, "get", _PLURAL[res], namespace):
            obj = await client.get(res, name, namespace=namespace)
    except ClusterError as exc:
        if isinstance(exc.__cause__, ApiError) and exc.__cause__.status.code == 404:
            return None
        raise
    return controller_record(obj)


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
