"""Finding an image's base, rule by rule: OCI annotations, BuildKit provenance, layer matching.

The first rule that names a base wins, and the finding says which (`FoundBy`). What a digest
is built from never changes, so what was read once is recorded: the base its provenance
names, and each platform image's layer list. Offline, annotations, recorded provenance
findings and layer matching on recorded layer lists still answer. Layer matching is decided
anew each time: a base tag watched later may be a longer match.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from tagwatch.core.base_layers import BaseBuild, match_base
from tagwatch.core.builds import platform_child
from tagwatch.core.digests import Digest, Platform
from tagwatch.core.drift import BaseFinding, FoundBy, annotated_base
from tagwatch.core.moves import BuildInfo, TagHistory
from tagwatch.core.provenance import DockerMaterial, base_from_statement, parse_statement
from tagwatch.core.references import ImageRef
from tagwatch.errors import TagwatchError

if TYPE_CHECKING:
    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store

__all__ = [
    "BASE_IMAGE_LABEL",
    "PREFERRED_PLATFORM",
    "BaseFinder",
    "platform_image",
    "preferred_platform",
]

log = logging.getLogger(__name__)

#: The watch label that marks a base tag (`watch add --from-dockerfile` sets it); such tags
#: come first when two base tags match an image equally well.
BASE_IMAGE_LABEL = ("purpose", "base-image")
#: The platform whose image stands for a multi-arch image, when it has one.
PREFERRED_PLATFORM = "linux/amd64"


def preferred_platform(platforms: Mapping[str, Digest]) -> str:
    """The platform of an index that stands for it: linux/amd64, else the first by name."""
    return PREFERRED_PLATFORM if PREFERRED_PLATFORM in platforms else min(platforms)


def platform_image(digest: Digest, build: BuildInfo | None) -> tuple[Digest, str | None]:
    """The platform image that stands for `digest` (an index's preferred child) and its
    platform (None when `digest` is an image whose platform was not recorded)."""
    if build is None or not build.platforms:
        return digest, None
    chosen = preferred_platform(build.platforms)
    return build.platforms[chosen], chosen


@dataclass
class BaseFinder:
    """Finds the base of images against the watched base tags (`bases`, preferred first).

    `histories` and `builds` are the recorded histories of those tags and the builds of
    their digests; `registry` None means offline.
    """

    store: Store
    registry: RegistryClient | None
    bases: Sequence[ImageRef]
    histories: Mapping[ImageRef, TagHistory]
    builds: Mapping[Digest, BuildInfo]
    now: Callable[[], datetime]
    # Per run: the base builds to match per platform, and every layer list looked up (None:
    # unreadable), so judging many images reads each base build once.
    _candidates: dict[str | None, list[BaseBuild]] = field(default_factory=dict, init=False)
    _layers_seen: dict[Digest, tuple[Digest, ...] | None] = field(default_factory=dict, init=False)

    async def find(
        self, ref: ImageRef, digest: Digest, build: BuildInfo | None
    ) -> BaseFinding | str:
        """The base `ref` (at `digest`) is built on, or why none of the rules found one."""
        reasons: list[str] = []
        annotated = annotated_base(build)
        if not isinstance(annotated, str):
            return annotated
        reasons.append(annotated)
        with self.store.begin() as tx:
            recorded = tx.recorded_base(digest)
        if recorded is not None:
            return recorded
        if self.registry is not None and build is not None and build.is_index:
            provenance = await self._provenance(ref, digest, build)
            if not isinstance(provenance, str):
                with self.store.begin() as tx:
                    tx.record_base(digest, provenance, at=self.now())
                return provenance
            reasons.append(provenance)
        layered = await self._layers(ref, digest, build)
        if not isinstance(layered, str):
            return layered
        reasons.append(layered)
        return "; ".join(reasons)

    async def _provenance(
        self, ref: ImageRef, digest: Digest, build: BuildInfo
    ) -> BaseFinding | str:
        assert self.registry is not None
        from tagwatch.registry.build_inputs import provenance_statements

        image, _ = platform_image(digest, build)
        try:
            statements = await provenance_statements(self.registry, ref, digest)
        except TagwatchError as exc:
            return f"provenance not read: {exc}"
        bodies = statements.get(image) or next(iter(statements.values()), [])
        if not bodies:
            return "no provenance attestation"
        reason = "no SLSA provenance"
        for body in bodies:
            try:
                found = base_from_statement(parse_statement(body))
            except ValueError as exc:
                reason = f"provenance is not a statement: {exc}"
                continue
            if found.base is not None and found.base.digest is not None:
                return BaseFinding(found.base.ref, found.base.digest, FoundBy.PROVENANCE)
            if found.candidates:
                chosen = await self._among(ref, digest, build, found.candidates)
                if chosen is not None:
                    return chosen
            reason = f"provenance: {found.reason or 'the base has no digest'}"
        return reason

    async def _among(
        self,
        ref: ImageRef,
        digest: Digest,
        build: BuildInfo,
        candidates: Iterable[DockerMaterial],
    ) -> BaseFinding | None:
        """Of several images a provenance lists (the stages of a `mode=min` build), the one
        whose complete layer list starts the image's: the final stage's `FROM`."""
        image, platform = platform_image(digest, build)
        layers = await self._layer_list(ref, image)
        if layers is None:
            return None
        builds: list[BaseBuild] = []
        for material in candidates:
            if material.digest is None:
                continue
            child = await self._child_for(material.ref, material.digest, platform)
            child_layers = await self._layer_list(material.ref, child) if child else None
            if child is not None and child_layers:
                builds.append(BaseBuild(material.ref, material.digest, child, child_layers))
        match = match_base(image, layers, builds)
        return None if match is None else BaseFinding(match.base, match.build, FoundBy.PROVENANCE)

    async def _child_for(
        self, ref: ImageRef, digest: Digest, platform: str | None
    ) -> Digest | None:
        if self.registry is None:
            return None
        try:
            build = self.builds.get(digest) or await self.registry.describe(ref, digest)
        except TagwatchError as exc:
            log.warning("%s@%s not described: %s", ref, digest.short, exc)
            return None
        if not build.platforms:
            return digest
        if platform is None:
            return platform_image(digest, build)[0]
        return platform_child(build.platforms, Platform.parse(platform))

    async def _layers(
        self, ref: ImageRef, digest: Digest, build: BuildInfo | None
    ) -> str | BaseFinding:
        image, platform = platform_image(digest, build)
        if not any(c.name != ref.name for c in self.bases):
            return "no watched base tag to match layers with (`tagwatch watch add BASE`)"
        layers = await self._layer_list(ref, image)
        if layers is None:
            return "layers not recorded (run without --offline)"
        if platform not in self._candidates:
            self._candidates[platform] = await self._base_builds(platform)
        others = (c for c in self._candidates[platform] if c.base.name != ref.name)
        match = match_base(image, layers, others)
        if match is None:
            return "no watched base tag's build is a prefix of its layers"
        return BaseFinding(match.base, match.build, FoundBy.LAYERS)

    async def _base_builds(self, platform: str | None) -> list[BaseBuild]:
        """Every recorded build of the base tags, as the platform image for `platform` (all
        of an index's images when it is unknown), preferred tags first, newest build first."""
        wanted: list[tuple[ImageRef, Digest, Digest]] = []
        for base in self.bases:
            history = self.histories.get(base)
            for sighting in reversed(history.sightings if history else ()):
                if sighting.digest is None:
                    continue
                recorded = self.builds.get(sighting.digest)
                children: Iterable[Digest]
                if recorded is None or not recorded.platforms:
                    children = [sighting.digest]
                elif platform is not None:
                    child = platform_child(recorded.platforms, Platform.parse(platform))
                    children = [child] if child is not None else []
                else:
                    children = recorded.platforms.values()
                wanted += [(base, sighting.digest, child) for child in children]
        lists = await self._layer_lists([(base, child) for base, _, child in wanted])
        return [
            BaseBuild(base, build_digest, child, lists[child])
            for base, build_digest, child in wanted
            if child in lists
        ]

    async def _layer_list(self, ref: ImageRef, image: Digest) -> tuple[Digest, ...] | None:
        return (await self._layer_lists([(ref, image)])).get(image)

    async def _layer_lists(
        self, images: Sequence[tuple[ImageRef, Digest]]
    ) -> dict[Digest, tuple[Digest, ...]]:
        """The layer lists of `images` (each in its repository): recorded, else read and
        recorded; one that cannot be read (deleted since) is left out."""
        asked = [(ref, d) for ref, d in dict.fromkeys(images) if d not in self._layers_seen]
        with self.store.begin() as tx:
            found = tx.layer_lists(d for _, d in asked) if asked else {}
        read: dict[Digest, tuple[Digest, ...]] = {}
        if self.registry is not None:
            from tagwatch.registry.build_inputs import layer_list

            for ref, image in asked:
                if image in found or image in read:
                    continue
                try:
                    read[image] = await layer_list(self.registry, ref, image)
                except TagwatchError as exc:
                    log.info("%s@%s: layers not read: %s", ref, image.short, exc)
            if read:
                with self.store.begin() as tx:
                    for image, layers in read.items():
                        tx.record_layers(image, layers, at=self.now())
        for _, image in asked:
            self._layers_seen[image] = found[image] if image in found else read.get(image)
        return {d: known for _, d in images if (known := self._layers_seen.get(d)) is not None}
