"""Builders for Kubernetes objects in real API JSON: pods, ReplicaSets, controllers, nodes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "C",
    "cronjob",
    "daemonset",
    "deployment",
    "image_id",
    "job",
    "node",
    "pod",
    "replicaset",
    "statefulset",
    "ts",
]

ImageIdForm = Literal["containerd", "docker-pullable", "docker", "bare", "hex", "hub-long"]


def ts(when: datetime) -> str:
    """RFC 3339 as the API server writes it (seconds, Z)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(*parts: str) -> str:
    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def image_id(repo: str, digest: str, form: ImageIdForm = "containerd") -> str:
    """`status.containerStatuses[].imageID` as each runtime spells it.

    containerd: `repo@sha256:…`; dockershim/cri-dockerd: `docker-pullable://repo@sha256:…`;
    docker: `docker://sha256:<config id>`; bare: `sha256:<id>`; hex: `<64 hex>`;
    hub-long: `index.docker.io/library/x@sha256:…` (a Docker Hub name variant).
    """
    if form == "containerd":
        return f"{repo}@{digest}"
    if form == "docker-pullable":
        return f"docker-pullable://{repo}@{digest}"
    if form == "docker":
        return f"docker://{digest}"
    if form == "bare":
        return digest
    if form == "hex":
        return digest.removeprefix("sha256:")
    if form == "hub-long":
        name = repo.removeprefix("docker.io/")
        if "/" not in name:
            name = f"library/{name}"
        return f"index.docker.io/{name}@{digest}"
    raise ValueError(form)


@dataclass
class C:
    """A container of a pod fixture: spec and status together.

    `state` is running | waiting | terminated; a waiting container has no imageID unless one
    is given (a crash-looping container keeps its last one).
    """

    name: str
    image: str
    image_id: str = ""
    started_at: datetime | None = None
    state: str = "running"
    pull_policy: str | None = None  # None: left out, as the API server's default would fill it
    ready: bool = True
    restart_policy: str | None = None  # "Always" on an init container makes it a sidecar
    reason: str = "ContainerCreating"
    extra: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "image": self.image}
        out["imagePullPolicy"] = self.pull_policy or _default_policy(self.image)
        if self.restart_policy:
            out["restartPolicy"] = self.restart_policy
        out["resources"] = {}
        out["terminationMessagePath"] = "/dev/termination-log"
        out["terminationMessagePolicy"] = "File"
        return out

    def status(self) -> dict[str, Any]:
        state: dict[str, Any]
        if self.state == "running":
            state = {"running": {"startedAt": ts(self.started_at or datetime.now(UTC))}}
        elif self.state == "terminated":
            started = ts(self.started_at or datetime.now(UTC))
            state = {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": started,
                    "finishedAt": started,
                }
            }
        else:
            state = {"waiting": {"reason": self.reason}}
        return {
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id,
            "ready": self.ready and self.state == "running",
            "restartCount": 0,
            "started": self.state == "running",
            "state": state,
            "lastState": {},
            **self.extra,
        }


def _default_policy(image: str) -> str:
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def _meta(
    name: str,
    namespace: str | None,
    *,
    kind: str,
    labels: dict[str, str] | None = None,
    owner: tuple[str, str] | None = None,
    created: datetime | None = None,
    generation: int | None = None,
    owner_api: str = "apps/v1",
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "uid": _uid(kind, namespace or "", name),
        "resourceVersion": "1",
        "creationTimestamp": ts(created or datetime(2026, 1, 1, tzinfo=UTC)),
    }
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if generation is not None:
        meta["generation"] = generation
    if owner is not None:
        okind, oname = owner
        api = "batch/v1" if okind in ("Job", "CronJob") else owner_api
        meta["ownerReferences"] = [
            {
                "apiVersion": api,
                "kind": okind,
                "name": oname,
                "uid": _uid(okind, namespace or "", oname),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return meta


def pod(
    name: str,
    namespace: str = "default",
    *,
    containers: list[C],
    init_containers: list[C] | None = None,
    owner: tuple[str, str] | None = None,
    labels: dict[str, str] | None = None,
    node: str | None = "node-a",
    template_hash: str | None = None,
    revision_hash: str | None = None,
    ready: bool | None = None,
    phase: str = "Running",
    start_time: datetime | None = None,
) -> dict[str, Any]:
    """A Pod as the API server returns it: spec, status, ownerReferences, hash labels."""
    all_labels = dict(labels or {})
    if template_hash:
        all_labels["pod-template-hash"] = template_hash
    if revision_hash:
        all_labels["controller-revision-hash"] = revision_hash
    inits = init_containers or []
    if ready is None:
        ready = all(c.ready and c.state == "running" for c in containers)
    started = [c.started_at for c in containers + inits if c.started_at]
    start = start_time or (min(started) if started else datetime(2026, 1, 1, tzinfo=UTC))
    spec: dict[str, Any] = {
        "containers": [c.spec() for c in containers],
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "dnsPolicy": "ClusterFirst",
    }
    if inits:
        spec["initContainers"] = [c.spec() for c in inits]
    if node:
        spec["nodeName"] = node
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [
            {"type": "Ready", "status": "True" if ready else "False"},
            {"type": "PodScheduled", "status": "True"},
        ],
        "containerStatuses": [c.status() for c in containers],
        "hostIP": "10.0.0.1",
        "podIP": "10.1.0.1",
        "qosClass": "BestEffort",
        "startTime": ts(start),
    }
    if inits:
        status["initContainerStatuses"] = [c.status() for c in inits]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": _meta(
            name, namespace, kind="Pod", labels=all_labels, owner=owner, created=start
        ),
        "spec": spec,
        "status": status,
    }


def _template(containers: list[C], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {"containers": [c.spec() for c in containers], "restartPolicy": "Always"},
    }


def replicaset(
    name: str,
    namespace: str = "default",
    *,
    deployment: str | None,
    template_hash: str,
    containers: list[C],
    replicas: int = 1,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    lab = {**(labels or {}), "pod-template-hash": template_hash}
    return {
        "kind": "ReplicaSet",
        "apiVersion": "apps/v1",
        "metadata": _meta(
            name,
            namespace,
            kind="ReplicaSet",
            labels=lab,
            owner=("Deployment", deployment) if deployment else None,
            generation=1,
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": lab},
            "template": _template(containers, lab),
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "fullyLabeledReplicas": replicas,
            "observedGeneration": 1,
        },
    }


def deployment(
    name: str,
    namespace: str = "default",
    *,
    containers: list[C],
    replicas: int = 2,
    labels: dict[str, str] | None = None,
    generation: int = 1,
    observed_generation: int | None = None,
    updated: int | None = None,
    available: int | None = None,
    status_replicas: int | None = None,
    progressing_reason: str = "NewReplicaSetAvailable",
    paused: bool = False,
) -> dict[str, Any]:
    """A Deployment; the status fields default to a finished rollout."""
    lab = labels or {"app": name}
    upd = replicas if updated is None else updated
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": _meta(name, namespace, kind="Deployment", labels=lab, generation=generation),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": lab},
            "template": _template(containers, lab),
            "strategy": {"type": "RollingUpdate"},
            "progressDeadlineSeconds": 600,
            **({"paused": True} if paused else {}),
        },
        "status": {
            "observedGeneration": generation
            if observed_generation is None
            else observed_generation,
            "replicas": replicas if status_replicas is None else status_replicas,
            "updatedReplicas": upd,
            "readyReplicas": upd if available is None else available,
            "availableReplicas": upd if available is None else available,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {
                    "type": "Progressing",
                    "status": {
                        "ProgressDeadlineExceeded": "False",
                        "DeploymentPaused": "Unknown",
                    }.get(progressing_reason, "True"),
                    "reason": progressing_reason,
                },
            ],
        },
    }


def statefulset(
    name: str,
    namespace: str = "default",
    *,
    containers: list[C],
    replicas: int = 2,
    revision: str = "web-6b8d7c9f",
    update_revision: str | None = None,
    ready: int | None = None,
    updated: int | None = None,
    partition: int = 0,
) -> dict[str, Any]:
    lab = {"app": name}
    return {
        "kind": "StatefulSet",
        "apiVersion": "apps/v1",
        "metadata": _meta(name, namespace, kind="StatefulSet", labels=lab, generation=1),
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": lab},
            "template": _template(containers, lab),
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
        },
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "readyReplicas": replicas if ready is None else ready,
            "currentReplicas": replicas,
            "updatedReplicas": replicas if updated is None else updated,
            "currentRevision": revision,
            "updateRevision": update_revision or revision,
            "availableReplicas": replicas if ready is None else ready,
        },
    }


def daemonset(
    name: str,
    namespace: str = "kube-system",
    *,
    containers: list[C],
    desired: int = 2,
    updated: int | None = None,
    available: int | None = None,
) -> dict[str, Any]:
    lab = {"app": name}
    return {
        "kind": "DaemonSet",
        "apiVersion": "apps/v1",
        "metadata": _meta(name, namespace, kind="DaemonSet", labels=lab, generation=1),
        "spec": {"selector": {"matchLabels": lab}, "template": _template(containers, lab)},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": desired,
            "numberReady": desired if available is None else available,
            "numberAvailable": desired if available is None else available,
            "updatedNumberScheduled": desired if updated is None else updated,
            "numberMisscheduled": 0,
        },
    }


def job(
    name: str,
    namespace: str = "default",
    *,
    containers: list[C],
    cronjob: str | None = None,
) -> dict[str, Any]:
    lab = {"job-name": name}
    return {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": _meta(
            name,
            namespace,
            kind="Job",
            labels=lab,
            owner=("CronJob", cronjob) if cronjob else None,
            generation=1,
        ),
        "spec": {
            "completions": 1,
            "parallelism": 1,
            "backoffLimit": 6,
            "template": {
                "metadata": {"labels": lab},
                "spec": {"containers": [c.spec() for c in containers], "restartPolicy": "Never"},
            },
        },
        "status": {"active": 1, "startTime": ts(datetime(2026, 1, 1, tzinfo=UTC))},
    }


def cronjob(name: str, namespace: str = "default", *, containers: list[C]) -> dict[str, Any]:
    return {
        "kind": "CronJob",
        "apiVersion": "batch/v1",
        "metadata": _meta(name, namespace, kind="CronJob", generation=1),
        "spec": {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Allow",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [c.spec() for c in containers],
                            "restartPolicy": "Never",
                        }
                    }
                }
            },
        },
        "status": {},
    }


def node(
    name: str,
    *,
    images: list[list[str]] | None = None,
    ready: bool = True,
    arch: str = "amd64",
    variant: str | None = None,
) -> dict[str, Any]:
    """A Node whose `status.images` lists the given name groups (repo digests and tags).

    `variant` sets tagwatch's `tagwatch.io/platform-variant` label (Kubernetes reports none).
    """
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
    }
    if variant:
        labels["tagwatch.io/platform-variant"] = variant
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": _meta(
            name,
            None,
            kind="Node",
            labels=labels,
        ),
        "spec": {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "images": [
                {"names": names, "sizeBytes": 1_000_000 - i} for i, names in enumerate(images or [])
            ],
            "nodeInfo": {
                "architecture": arch,
                "bootID": _uid("boot", name),
                "containerRuntimeVersion": "containerd://1.7.20",
                "kernelVersion": "6.1.0-25-amd64",
                "kubeProxyVersion": "v1.32.4",
                "kubeletVersion": "v1.32.4",
                "machineID": _uid("machine", name).replace("-", ""),
                "operatingSystem": "linux",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "systemUUID": _uid("system", name),
            },
        },
    }
