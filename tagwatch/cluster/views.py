"""The fields tagwatch reads of each kind: msgspec Structs lightkube decodes the API's bytes into.

Why not lightkube's own models: they decode every field of the schema (managedFields, probes,
volumes, env, ...), eight to ten times the work for the few fields a scan reads, and leave as many
objects for the garbage collector to walk. These views name only what records.py turns into core
records; everything else in the JSON is skipped by the decoder without building an object.
Nested views are untracked by the GC (`gc=False`: decoded JSON holds no reference cycles); the
top-level ones cannot be, because lightkube's resource mixins carry a `__dict__`.

Each top-level view is a lightkube resource (it borrows the `_api_info` of lightkube's own class),
so `client.list(PodView, ...)` and `client.get(...)` work unchanged, with lightkube's paging,
auth and errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec
from lightkube.core import resource as lightkube_resource
from lightkube.resources import apps_v1, batch_v1, core_v1

__all__ = [
    "CONTROLLER_VIEWS",
    "ControllerView",
    "CronJobView",
    "DaemonSetView",
    "DeploymentView",
    "JobView",
    "NodeView",
    "PodView",
    "ReplicaSetView",
    "StatefulSetView",
]


class _Part(msgspec.Struct, gc=False, omit_defaults=True):
    """A nested part of a view: only scalars, lists and other parts, never a cycle."""


class OwnerReference(_Part):
    kind: str = ""
    name: str = ""
    controller: bool | None = None


class ObjectMeta(_Part):
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    ownerReferences: list[OwnerReference] | None = None
    creationTimestamp: datetime | None = None
    generation: int | None = None


class Condition(_Part):
    type: str = ""
    status: str = ""
    reason: str | None = None


class Container(_Part):
    name: str = ""
    image: str | None = None
    imagePullPolicy: str | None = None


class PodSpec(_Part):
    nodeName: str | None = None
    initContainers: list[Container] | None = None
    containers: list[Container] | None = None


class StartedAt(_Part):
    startedAt: datetime | None = None


class ContainerState(_Part):
    running: StartedAt | None = None
    terminated: StartedAt | None = None
    waiting: dict[str, Any] | None = None


class ContainerStatus(_Part):
    name: str = ""
    imageID: str | None = None
    ready: bool = False
    restartCount: int | None = None
    state: ContainerState | None = None


class PodStatus(_Part):
    phase: str | None = None
    startTime: datetime | None = None
    conditions: list[Condition] | None = None
    initContainerStatuses: list[ContainerStatus] | None = None
    containerStatuses: list[ContainerStatus] | None = None


class PodView(lightkube_resource.NamespacedResourceG, msgspec.Struct, omit_defaults=True):
    _api_info = core_v1.Pod._api_info

    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None
    status: PodStatus | None = None


class ReplicaSetSpec(_Part):
    replicas: int | None = None


class ReplicaSetView(lightkube_resource.NamespacedResourceG, msgspec.Struct, omit_defaults=True):
    _api_info = apps_v1.ReplicaSet._api_info

    metadata: ObjectMeta | None = None
    spec: ReplicaSetSpec | None = None


class PodTemplate(_Part):
    spec: PodSpec | None = None


class JobSpec(_Part):
    template: PodTemplate | None = None


class JobTemplate(_Part):
    spec: JobSpec | None = None


class RollingUpdate(_Part):
    partition: int | None = None


class UpdateStrategy(_Part):
    rollingUpdate: RollingUpdate | None = None


class ControllerSpec(_Part):
    """The spec fields of every controller kind: each kind fills the ones it has."""

    replicas: int | None = None
    paused: bool | None = None
    progressDeadlineSeconds: int | None = None
    template: PodTemplate | None = None
    jobTemplate: JobTemplate | None = None  # CronJob
    updateStrategy: UpdateStrategy | None = None  # StatefulSet (partition)


class ControllerStatus(_Part):
    observedGeneration: int | None = None
    replicas: int | None = None
    updatedReplicas: int | None = None
    availableReplicas: int | None = None
    readyReplicas: int | None = None
    currentRevision: str | None = None
    updateRevision: str | None = None
    conditions: list[Condition] | None = None
    # DaemonSet
    desiredNumberScheduled: int | None = None
    updatedNumberScheduled: int | None = None
    numberAvailable: int | None = None
    numberReady: int | None = None


class ControllerView(lightkube_resource.NamespacedResourceG, msgspec.Struct, omit_defaults=True):
    """A controller of any kind; the subclasses say which (KIND) and where lightkube reads it."""

    KIND: ClassVar[str] = ""

    metadata: ObjectMeta | None = None
    spec: ControllerSpec | None = None
    status: ControllerStatus | None = None


class DeploymentView(ControllerView):
    KIND: ClassVar[str] = "Deployment"
    _api_info = apps_v1.Deployment._api_info


class StatefulSetView(ControllerView):
    KIND: ClassVar[str] = "StatefulSet"
    _api_info = apps_v1.StatefulSet._api_info


class DaemonSetView(ControllerView):
    KIND: ClassVar[str] = "DaemonSet"
    _api_info = apps_v1.DaemonSet._api_info


class JobView(ControllerView):
    KIND: ClassVar[str] = "Job"
    _api_info = batch_v1.Job._api_info


class CronJobView(ControllerView):
    KIND: ClassVar[str] = "CronJob"
    _api_info = batch_v1.CronJob._api_info


#: Each controller kind's view, by kind.
CONTROLLER_VIEWS: dict[str, type[ControllerView]] = {
    view.KIND: view
    for view in (DeploymentView, StatefulSetView, DaemonSetView, JobView, CronJobView)
}


class NodeSystemInfo(_Part):
    architecture: str | None = None
    operatingSystem: str | None = None


class ContainerImage(_Part):
    names: list[str] | None = None


class NodeStatus(_Part):
    nodeInfo: NodeSystemInfo | None = None
    images: list[ContainerImage] | None = None
    conditions: list[Condition] | None = None


class NodeView(lightkube_resource.GlobalResource, msgspec.Struct, omit_defaults=True):
    _api_info = core_v1.Node._api_info

    metadata: ObjectMeta | None = None
    status: NodeStatus | None = None
