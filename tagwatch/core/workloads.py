"""What a cluster runs, as plain records: pods, real digests, owners, nodes, rollouts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from tagwatch.core.digests import Digest, Platform
from tagwatch.core.references import ImageRef
from tagwatch.errors import InvalidReference

__all__ = [
    "NODE_IMAGES_CAP",
    "ContainerRun",
    "ContainerSpec",
    "ControllerRecord",
    "ImageKey",
    "ImageKind",
    "NodeRecord",
    "Owner",
    "PodRecord",
    "PullPolicy",
    "ReplicaSetRecord",
    "RunningImage",
    "Snapshot",
    "Workload",
    "WorkloadKey",
    "default_pull_policy",
    "group_workloads",
    "node_tag_index",
    "normalise_image_id",
    "parse_image",
]

#: kubelet's default `--node-status-max-images`: a node lists at most this many images.
NODE_IMAGES_CAP = 50

_HEX64 = re.compile(r"[a-f0-9]{64}")


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class ImageKind(StrEnum):
    """What an imageID names: a registry manifest (comparable with history) or a local image ID."""

    MANIFEST = "manifest"  # repo@sha256:…: the manifest or index digest the runtime resolved
    CONFIG = "config"  # docker://sha256:…, bare sha256:…/hex: the image's config ID, local only


@dataclass(frozen=True, slots=True, order=True)
class ImageKey:
    """What a container runs, as a key: a registry digest, or a local image ID (never comparable).

    Its text is the digest (`sha256:…`), or `image-id:sha256:…` for a local ID, as JSON shows it.
    """

    digest: Digest
    local: bool = False

    @property
    def short(self) -> str:
        return ("id:" if self.local else "") + self.digest.short

    def __str__(self) -> str:
        return f"image-id:{self.digest}" if self.local else str(self.digest)


@dataclass(frozen=True, slots=True, order=True)
class RunningImage:
    """The bytes a container runs: a digest, its kind, and the repository the runtime named."""

    digest: Digest
    kind: ImageKind = ImageKind.MANIFEST
    repository: str | None = None  # `registry/path`, normalised, when the runtime named one

    @property
    def key(self) -> ImageKey:
        """The running image as a key: a local image ID never equals a registry digest."""
        return ImageKey(self.digest, self.kind is ImageKind.CONFIG)


@lru_cache(maxsize=65536)
def normalise_image_id(raw: str | None) -> RunningImage | None:
    """Read `containerStatuses[].imageID` in any runtime's spelling; None when empty or unreadable.

    `docker.io/library/nginx@sha256:…`, `docker-pullable://nginx@sha256:…` and
    `index.docker.io/library/nginx@sha256:…` are one manifest digest; `docker://sha256:…`, bare
    `sha256:…` and bare hex are local image (config) IDs.
    """
    if not raw:
        return None
    text = raw.strip()
    _, sep, rest = text.partition("://")
    if not sep:
        rest = text
    if "@" in rest:
        name, _, raw_digest = rest.rpartition("@")
        try:
            digest = Digest.parse(raw_digest)
        except ValueError:
            return None
        repository: str | None = None
        if name:
            try:
                repository = ImageRef.parse(name, default_tag=None).name
            except InvalidReference:
                repository = None
        return RunningImage(digest, ImageKind.MANIFEST, repository)
    if _HEX64.fullmatch(rest):
        return RunningImage(Digest("sha256", rest), ImageKind.CONFIG)
    try:
        digest = Digest.parse(rest)
    except ValueError:
        return None
    # docker://sha256:…, bare sha256:… : an image ID, not a registry digest.
    return RunningImage(digest, ImageKind.CONFIG)


def default_pull_policy(ref: ImageRef | None) -> PullPolicy:
    """Kubernetes' default: `latest` or no tag -> Always; anything else -> IfNotPresent."""
    if ref is None:
        return PullPolicy.IF_NOT_PRESENT
    if ref.digest is not None:
        return PullPolicy.IF_NOT_PRESENT
    if ref.tag in (None, "latest"):
        return PullPolicy.ALWAYS
    return PullPolicy.IF_NOT_PRESENT


@lru_cache(maxsize=65536)
def parse_image(raw: str) -> ImageRef | None:
    """The spec's image as an ImageRef (no tag means `latest`), or None when it does not parse."""
    try:
        return ImageRef.parse(raw)
    except InvalidReference:
        return None


class _HasImage:
    """What a container spec and a container run share: the spec's image string, parsed."""

    __slots__ = ()
    image: str

    @property
    def ref(self) -> ImageRef | None:
        return parse_image(self.image)


@dataclass(frozen=True, slots=True)
class ContainerSpec(_HasImage):
    """One container of a pod template (or a pod's spec): name, image, pull policy."""

    name: str
    image: str
    pull_policy: PullPolicy
    init: bool = False


@dataclass(frozen=True, slots=True)
class ContainerRun(_HasImage):
    """One container of a pod as the kubelet reports it."""

    name: str
    image: str  # the spec's image string
    pull_policy: PullPolicy
    running: RunningImage | None  # None while waiting (no imageID yet)
    state: str = "running"  # running | waiting | terminated | unknown
    started_at: datetime | None = None
    ready: bool = False
    init: bool = False
    restart_count: int = 0


@dataclass(frozen=True, slots=True)
class Owner:
    """A controller owner reference (`controller: true`)."""

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class PodRecord:
    """A pod: where it runs, who owns it, which template revision it has, and its containers."""

    namespace: str
    name: str
    node: str | None
    owner: Owner | None
    containers: tuple[ContainerRun, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    template_hash: str | None = None  # pod-template-hash or controller-revision-hash
    phase: str = "Running"
    ready: bool = False
    start_time: datetime | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReplicaSetRecord:
    namespace: str
    name: str
    owner: Owner | None
    template_hash: str | None = None
    replicas: int = 0


@dataclass(frozen=True, slots=True)
class ControllerRecord:
    """A Deployment, StatefulSet, DaemonSet, Job or CronJob, with its rollout status fields."""

    kind: str
    namespace: str
    name: str
    containers: tuple[ContainerSpec, ...] = ()
    owner: Owner | None = None  # a Job's CronJob
    generation: int = 0
    observed_generation: int = 0
    replicas: int = 1  # desired (DaemonSet: desiredNumberScheduled)
    updated_replicas: int = 0  # DaemonSet: updatedNumberScheduled
    available_replicas: int = 0  # DaemonSet: numberAvailable
    ready_replicas: int = 0
    status_replicas: int = 0  # status.replicas (total pods of every revision)
    progressing_reason: str | None = None
    current_revision: str | None = None  # StatefulSet
    update_revision: str | None = None  # StatefulSet
    partition: int = 0  # StatefulSet rolling update partition
    paused: bool = False  # Deployment spec.paused
    progress_deadline: int | None = None  # Deployment spec.progressDeadlineSeconds


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node and the images its status lists: (names, i.e. repo digests and tags) per image."""

    name: str
    images: tuple[tuple[str, ...], ...] = ()
    ready: bool = True
    platform: Platform | None = None  # status.nodeInfo os/architecture, variant from a label

    @property
    def capped(self) -> bool:
        """The list may be cut at the kubelet's cap: absence from it proves nothing."""
        return len(self.images) >= NODE_IMAGES_CAP


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything read from the cluster in one scan."""

    pods: tuple[PodRecord, ...] = ()
    replicasets: tuple[ReplicaSetRecord, ...] = ()
    controllers: tuple[ControllerRecord, ...] = ()
    nodes: tuple[NodeRecord, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class WorkloadKey:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name} -n {self.namespace}"


@dataclass(frozen=True, slots=True)
class Workload:
    """A top-level owner and its pods, each with its template group (ReplicaSet or revision)."""

    key: WorkloadKey
    controller: ControllerRecord | None
    pods: tuple[PodRecord, ...]
    groups: Mapping[str, str]  # pod name -> template group (ReplicaSet name, revision hash, or "")

    @property
    def group_count(self) -> int:
        return len(set(self.groups.values()))


def _top_owner(
    pod: PodRecord,
    replicasets: Mapping[tuple[str, str], ReplicaSetRecord],
    controllers: Mapping[tuple[str, str, str], ControllerRecord],
) -> tuple[WorkloadKey, str]:
    """Walk Pod -> ReplicaSet -> Deployment and Pod -> Job -> CronJob: (top key, template group)."""
    ns = pod.namespace
    owner = pod.owner
    if owner is None:
        return WorkloadKey("Pod", ns, pod.name), ""
    if owner.kind == "ReplicaSet":
        rs = replicasets.get((ns, owner.name))
        if rs is not None and rs.owner is not None and rs.owner.kind == "Deployment":
            return WorkloadKey("Deployment", ns, rs.owner.name), owner.name
        return WorkloadKey("ReplicaSet", ns, owner.name), owner.name
    if owner.kind == "Job":
        job = controllers.get(("Job", ns, owner.name))
        if job is not None and job.owner is not None and job.owner.kind == "CronJob":
            # Every Job of a CronJob is a template revision of its own.
            return WorkloadKey("CronJob", ns, job.owner.name), owner.name
        return WorkloadKey("Job", ns, owner.name), owner.name
    # StatefulSet / DaemonSet pods carry controller-revision-hash; others group as one.
    return WorkloadKey(owner.kind, ns, owner.name), pod.template_hash or ""


def group_workloads(snapshot: Snapshot) -> list[Workload]:
    """Group pods by their top-level controller (never by labels), sorted by kind, ns, name."""
    replicasets = {(rs.namespace, rs.name): rs for rs in snapshot.replicasets}
    controllers = {(c.kind, c.namespace, c.name): c for c in snapshot.controllers}
    pods: dict[WorkloadKey, list[PodRecord]] = {}
    groups: dict[WorkloadKey, dict[str, str]] = {}
    for pod in snapshot.pods:
        key, group = _top_owner(pod, replicasets, controllers)
        pods.setdefault(key, []).append(pod)
        groups.setdefault(key, {})[pod.name] = group
    out = [
        Workload(
            key=key,
            controller=controllers.get((key.kind, key.namespace, key.name)),
            pods=tuple(sorted(members, key=lambda p: p.name)),
            groups=groups[key],
        )
        for key, members in pods.items()
    ]
    out.sort(key=lambda w: w.key)
    return out


def node_tag_index(node: NodeRecord) -> dict[str, frozenset[Digest]]:
    """For each tag a node lists (`registry/repo:tag`), the repo digests listed with it.

    kubelet lists each image with up to 5 names (repo digests and tags); the entry that
    names a tag is what `IfNotPresent` would start on that node.
    """
    index: dict[str, set[Digest]] = {}
    for names in node.images:
        digests: set[Digest] = set()
        tags: list[str] = []
        for n in names:
            if "@" in n:
                running = normalise_image_id(n)
                if running is not None:
                    digests.add(running.digest)
            else:
                ref = parse_image(n)
                if ref is not None:
                    tags.append(str(ref))
        for tag in tags:
            index.setdefault(tag, set()).update(digests)
    return {tag: frozenset(ds) for tag, ds in index.items()}
