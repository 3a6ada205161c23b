"""The shared inputs of one skew scan or verdict, with the caches that make 20k pods cheap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from tagwatch.core.builds import BuildFold, PlatformImage, platform_child, platform_image
from tagwatch.core.digests import Digest, Platform
from tagwatch.core.moves import BuildInfo, TagHistory, TagMove, moves_of
from tagwatch.core.references import ImageRef
from tagwatch.core.workloads import (
    ContainerSpec,
    NodeRecord,
    PullPolicy,
    Workload,
    node_tag_index,
    parse_image,
)

if TYPE_CHECKING:
    from tagwatch.core.skew_pods import PodBasis
    from tagwatch.core.skew_predict import Prediction

__all__ = ["ScanContext", "containers_of", "template_spec"]


class ScanContext:
    """Histories, builds and ready nodes of one scan; every lookup memoised per tag or digest."""

    def __init__(
        self,
        histories: Mapping[ImageRef, TagHistory],
        index_of: Mapping[Digest, Digest],
        builds: Mapping[Digest, BuildInfo],
        nodes: Sequence[NodeRecord],
        now: datetime,
    ) -> None:
        self.histories = histories
        self.fold = BuildFold(index_of, builds)
        self.builds = builds
        self.now = now
        self.nodes = [n for n in nodes if n.ready]
        self.node_digests: dict[str, set[str]] = {}
        for node in self.nodes:
            for names in node.images:
                for name in names:
                    if "@" in name:
                        self.node_digests.setdefault(name.rpartition("@")[2], set()).add(node.name)
        # tag -> {node: digests listed with it}, and the nodes whose list may be cut short
        self.tag_nodes: dict[str, dict[str, frozenset[Digest]]] = {}
        for node in self.nodes:
            for tag, digests in node_tag_index(node).items():
                self.tag_nodes.setdefault(tag, {})[node.name] = digests
        self.platforms = {n.name: n.platform for n in nodes if n.platform is not None}
        # ready nodes by platform (None: the node did not say), for decisions per platform
        by_platform: dict[Platform | None, set[str]] = {}
        for node in self.nodes:
            by_platform.setdefault(node.platform, set()).add(node.name)
        self.nodes_by_platform = {p: frozenset(names) for p, names in by_platform.items()}
        # platform child -> the recorded indexes that list it
        self.listing: dict[Digest, set[Digest]] = {}
        for digest, build in builds.items():
            for child in build.platforms.values():
                self.listing.setdefault(child, set()).add(digest)
        self._platform_text = {name: str(p) for name, p in self.platforms.items()}
        self._identity: dict[tuple[str, str], PlatformImage] = {}
        self.node_names = frozenset(n.name for n in self.nodes)
        self.all_nodes = tuple(sorted(self.node_names))
        self.capped = frozenset(n.name for n in self.nodes if n.capped)
        self.predictions: dict[tuple[ImageRef, PullPolicy, Digest], Prediction] = {}
        # (image, digest, id of its PlatformImage) -> (that PlatformImage, the pods' basis)
        self.pod_bases: dict[tuple[str, str, int], tuple[PlatformImage | None, PodBasis]] = {}
        self._refs: dict[str, ImageRef | None] = {}
        self._moves: dict[ImageRef, list[TagMove]] = {}
        self._canon_history: dict[ImageRef, list[Digest | None]] = {}
        self._history: dict[int, tuple[ImageRef, TagHistory | None]] = {}
        self._familiar: dict[int, tuple[ImageRef, str]] = {}

    def ref(self, image: str) -> ImageRef | None:
        if image not in self._refs:
            self._refs[image] = parse_image(image)
        return self._refs[image]

    def canon(self, digest: Digest, now: Digest | None = None) -> Digest:
        """The build a digest stands for (the one rule in core/builds)."""
        return self.fold.canon(digest, now)

    def identity(self, digest: Digest, node: str | None) -> PlatformImage:
        """The platform image a pod on `node` runs when the runtime reports `digest`."""
        platform = self.platforms.get(node) if node else None
        # Keyed by text (whose hashes Python caches), not by the dataclasses: once per pod.
        key = (digest.encoded, self._platform_text.get(node, "") if node else "")
        found = self._identity.get(key)
        if found is None:
            found = platform_image(digest, platform, self.builds, self.listing, self.fold)
            self._identity[key] = found
        return found

    def identity_on(self, digest: Digest, platform: Platform | None) -> PlatformImage:
        """The platform image a node of `platform` runs when the runtime reports `digest`."""
        key = (digest.encoded, str(platform) if platform is not None else "")
        found = self._identity.get(key)
        if found is None:
            found = platform_image(digest, platform, self.builds, self.listing, self.fold)
            self._identity[key] = found
        return found

    def target_image(self, target: Digest, platform: Platform | None) -> Digest | None:
        """The platform image a node of `platform` runs for `target`: the child a recorded index
        lists for it, a recorded platform image itself; None when that cannot be told."""
        build = self.builds.get(target)
        if build is None:
            return None
        if not build.platforms:
            return target
        return platform_child(build.platforms, platform) if platform is not None else None

    def same_platform_image(self, identity: PlatformImage | None, target: Digest | None) -> bool:
        """The platform-true rule: whether a pod runs the very platform image `target` lists for
        its node's platform, so an index re-pushed with only attestations or annotations
        changed (a new index digest) still runs the same bytes."""
        if identity is None or identity.image is None or identity.platform is None:
            return False
        if target is None:
            return False
        return self.target_image(target, identity.platform) == identity.image

    def history(self, ref: ImageRef) -> TagHistory | None:
        found = self._history.get(id(ref))
        if found is None or found[0] is not ref:
            key = ref if ref.digest is None else ref.without_digest()
            history = self.histories.get(key)
            found = (ref, history if history is not None and history.sightings else None)
            self._history[id(ref)] = found
        return found[1]

    def familiar(self, ref: ImageRef) -> str:
        name = self._familiar.get(id(ref))
        if name is None or name[0] is not ref:
            name = (ref, ref.familiar)
            self._familiar[id(ref)] = name
        return name[1]

    def moves(self, history: TagHistory) -> list[TagMove]:
        if history.ref not in self._moves:
            self._moves[history.ref] = moves_of(history)
        return self._moves[history.ref]

    def canon_history(self, history: TagHistory) -> list[Digest | None]:
        if history.ref not in self._canon_history:
            self._canon_history[history.ref] = [
                self.canon(s.digest) if s.digest else None for s in history.sightings
            ]
        return self._canon_history[history.ref]

    def now_digest(self, history: TagHistory | None) -> Digest | None:
        if history is None or history.current is None or history.current.digest is None:
            return None
        return history.current.digest

    def revisions(self, move: TagMove) -> str:
        def rev(d: Digest | None) -> str | None:
            build = self.builds.get(d) if d else None
            return build.revision if build else None

        old, new = rev(move.from_digest), rev(move.to_digest)
        if old or new:
            return f", revision {(old or '?')[:12]} -> {(new or '?')[:12]}"
        return ""


def containers_of(workload: Workload) -> list[tuple[str, bool]]:
    """Container names in spec order (init containers first), across every pod of the workload."""
    names: dict[str, bool] = {}
    if workload.controller is not None:
        for spec in workload.controller.containers:
            names.setdefault(spec.name, spec.init)
    for pod in workload.pods:
        for c in pod.containers:
            names.setdefault(c.name, c.init)
    return sorted(names.items(), key=lambda item: not item[1])  # stable: init containers first


def template_spec(workload: Workload, container: str) -> ContainerSpec | None:
    """The controller template's spec of `container`, when the workload has a controller."""
    if workload.controller is None:
        return None
    return next((s for s in workload.controller.containers if s.name == container), None)
