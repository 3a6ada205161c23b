"""Base-image drift: which images are built on a base digest their base tag has moved away from.

The base of each image is found by `app/bases.py` (annotations, provenance, layers); the
watched tags are the base tags layer matching compares with, those labelled
`purpose: base-image` first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tagwatch.app.bases import BASE_IMAGE_LABEL, BaseFinder, preferred_platform
from tagwatch.app.check import run_check
from tagwatch.core.digests import Digest
from tagwatch.core.drift import BaseDrift, BaseFinding, DriftState, judge_base
from tagwatch.core.moves import BuildInfo, TagHistory
from tagwatch.core.references import ImageRef
from tagwatch.core.times import iso_utc, utcnow
from tagwatch.errors import TagwatchError

if TYPE_CHECKING:
    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store

__all__ = ["DriftResult", "find_drift"]


@dataclass(frozen=True, slots=True)
class DriftResult:
    """One image: its base-image drift, or the error that kept us from judging it."""

    ref: ImageRef
    drift: BaseDrift | None = None
    error: str | None = None

    @property
    def state(self) -> str:
        return self.drift.state.value if self.drift else "error"

    @property
    def behind(self) -> bool:
        return self.drift is not None and self.drift.state is DriftState.BEHIND

    def to_json(self) -> dict[str, Any]:
        d = self.drift
        return {
            "ref": str(self.ref),
            "digest": _str(d.digest if d else None),
            "state": self.state,
            "base": _str(d.base if d else None),
            "base_digest": _str(d.base_digest if d else None),
            "base_now": _str(d.base_now if d else None),
            "moves_behind": d.moves_behind if d and d.state is DriftState.BEHIND else 0,
            "moves_behind_exact": d.exact if d else True,
            "found_by": d.found_by.value if d and d.found_by else None,
            "base_current_from": iso_utc(d.current_from if d else None),
            "base_moved_at": iso_utc(d.moved_at if d else None),
            "base_last_moved_at": iso_utc(d.last_moved_at if d else None),
            "base_window_start": iso_utc(d.window_start if d else None),
            "rebuild": self.behind,
            "reason": (d.reason or None) if d else None,
            "error": self.error,
        }


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


async def _labelled(
    ref: ImageRef, build: BuildInfo | None, registry: RegistryClient
) -> BuildInfo | None:
    """An index carries no config labels: take the base labels of one platform's image.

    BuildKit labels each platform image with its own base (that platform's child of the base
    index); the base's recorded index lists those children, so either platform compares.
    """
    if build is None or not build.is_index or build.label("base.name") or not build.platforms:
        return build
    try:
        child = await registry.describe(ref, build.platforms[preferred_platform(build.platforms)])
    except TagwatchError:
        return build  # judged as unlabelled; the check itself succeeded
    return BuildInfo(build.media_type, build.platforms, {**child.labels, **build.labels})


async def find_drift(
    refs: Sequence[ImageRef],
    *,
    store: Store,
    registry: RegistryClient | None,
    now: Callable[[], datetime] = utcnow,
) -> list[DriftResult]:
    """Judge each image (default: every watched tag) against its base tag's history.

    With a `registry`, the images and then their base tags are checked now (and recorded);
    without one (offline), only the recorded history and builds are used.
    """
    if not refs:
        with store.begin() as tx:
            refs = [w.ref for w in tx.watches()]
    images = list(dict.fromkeys(r.without_digest() for r in refs))
    if not images:
        return []

    errors: dict[ImageRef, str] = {}
    current: dict[ImageRef, tuple[Digest | None, BuildInfo | None]] = {}
    if registry is not None:
        for result in await run_check(images, registry=registry, store=store, now=now):
            if result.error:
                errors[result.ref] = str(result.error)
            else:
                current[result.ref] = (result.digest, result.build)
    else:
        with store.begin() as tx:
            histories = tx.histories(images)
            digests = {h.current.digest for h in histories.values() if h.current}
            recorded = tx.builds(d for d in digests if d is not None)
        for ref in images:
            sighting = histories[ref].current
            if sighting is None:
                errors[ref] = "never checked; run without --offline (or `tagwatch check`) first"
            elif sighting.digest is None:
                errors[ref] = "the tag was deleted from the registry"
            else:
                current[ref] = (sighting.digest, recorded.get(sighting.digest))

    if registry is not None:
        for ref, (digest, build) in list(current.items()):
            current[ref] = (digest, await _labelled(ref, build, registry))

    with store.begin() as tx:
        watched = sorted(
            tx.watches(),
            key=lambda w: (w.labels.get(BASE_IMAGE_LABEL[0]) != BASE_IMAGE_LABEL[1], str(w.ref)),
        )
    base_tags = [w.ref for w in watched]
    checked = set(images)
    if registry is not None:
        # Fresh histories of the base tags, so layer matching sees each one's newest build.
        await run_check(
            [b for b in base_tags if b not in checked], registry=registry, store=store, now=now
        )
        checked.update(base_tags)
    finder = BaseFinder(store, registry, base_tags, *_recorded(store, base_tags), now=now)
    findings: dict[ImageRef, BaseFinding | str] = {}
    for ref, (digest, build) in current.items():
        findings[ref] = (
            await finder.find(ref, digest, build) if digest is not None else "the tag is gone"
        )

    bases = list(
        dict.fromkeys(
            f.base.without_digest()
            for f in findings.values()
            if isinstance(f, BaseFinding) and f.base.tag is not None
        )
    )
    if registry is not None and (unchecked := [b for b in bases if b not in checked]):
        # Refresh the bases so "behind" means behind what the base tag points to now. A base
        # that cannot be checked is judged on its recorded history.
        await run_check(unchecked, registry=registry, store=store, now=now)
    base_histories, base_builds = _recorded(store, bases)

    results: list[DriftResult] = []
    for ref in images:
        if ref in errors:
            results.append(DriftResult(ref, error=errors[ref]))
            continue
        digest = current[ref][0]
        finding = findings[ref]
        if isinstance(finding, str):
            drift = BaseDrift(ref, digest, DriftState.UNKNOWN, reason=finding)
        else:
            history = base_histories.get(finding.base.without_digest())
            drift = judge_base(ref, digest, finding, history, base_builds)
        results.append(DriftResult(ref, drift))
    return results


def _recorded(
    store: Store, refs: Sequence[ImageRef]
) -> tuple[dict[ImageRef, TagHistory], dict[Digest, BuildInfo]]:
    """The recorded histories of `refs` and the builds of every digest they ever had."""
    with store.begin() as tx:
        histories = tx.histories(refs) if refs else {}
        digests = {s.digest for h in histories.values() for s in h.sightings if s.digest}
        return histories, tx.builds(digests)
