"""The skew scan: read the cluster, refresh the tags it runs, join both with the history."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tagwatch.app.check import run_check
from tagwatch.app.collector import pause_cycle_collector
from tagwatch.cluster import read_snapshot
from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, TagHistory
from tagwatch.core.references import ImageRef
from tagwatch.core.skew import SkewReport, find_skew, tag_refs
from tagwatch.core.times import utcnow
from tagwatch.core.workloads import ImageKind, Workload, group_workloads, parse_image
from tagwatch.errors import TagwatchError
from tagwatch.registry.manifests import parse_manifest

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from tagwatch.registry import RegistryClient
    from tagwatch.store import Store

__all__ = [
    "Joined",
    "ScanResult",
    "join_history",
    "load_history",
    "record_unrecorded",
    "refresh_tags",
    "report_json",
    "scan_skew",
    "unrecorded_digests",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, repr=False)
class ScanResult:
    """A skew report, and the tags that could not be refreshed (their recorded history was used).

    No generated repr: asyncio.run reprs its main task's result when it restores the SIGINT
    handler, and the repr of a 20,000-pod report costs a third of a second.
    """

    def __repr__(self) -> str:
        return f"<ScanResult {len(self.report.findings)} findings>"

    report: SkewReport
    refresh_errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Joined:
    """What the store knows about the workloads' images, loaded in one transaction."""

    histories: dict[ImageRef, TagHistory]
    index_of: dict[Digest, Digest]
    builds: dict[Digest, BuildInfo]


async def refresh_tags(
    refs: Sequence[ImageRef],
    *,
    registry: RegistryClient,
    store: Store,
    now: Callable[[], datetime],
) -> dict[ImageRef, str]:
    """Check `refs` now and record what moved; returns a message for each tag that failed."""
    if not refs:
        return {}
    results = await run_check(refs, registry=registry, store=store, now=now)
    errors = {r.ref: f"{r.ref}: {r.error}" for r in results if r.error}
    for message in errors.values():
        log.warning("could not refresh %s; using the recorded history", message)
    return errors


def load_history(store: Store, workloads: Iterable[Workload], refs: Sequence[ImageRef]) -> Joined:
    """Histories of `refs`, the index of every running digest, and the builds a report shows.

    Builds are read only for what the report can mention: each tag's current digest, the
    digests of the moves since its earliest container start, and the moves out of every
    digest a pod runs. With 5,000 recorded moves that is a few hundred rows, not thousands.
    """
    running: set[Digest] = set()
    since: dict[ImageRef, datetime] = {}
    for w in workloads:
        for p in w.pods:
            for c in p.containers:
                if c.running is not None and c.running.kind is ImageKind.MANIFEST:
                    running.add(c.running.digest)
                ref = parse_image(c.image)
                if ref is not None and c.started_at is not None:
                    first = since.get(ref)
                    if first is None or c.started_at < first:
                        since[ref] = c.started_at
    with store.begin() as tx:
        histories = tx.histories(refs) if refs else {}
        index_of = tx.index_of(running) if running else {}
        pods_run = running | set(index_of.values())
        shown = set(pods_run)
        for ref, history in histories.items():
            shown |= _shown_digests(history, since.get(ref), pods_run)
        builds = tx.builds(shown) if shown else {}
    return Joined(dict(histories), dict(index_of), dict(builds))


def _shown_digests(
    history: TagHistory, since: datetime | None, running: set[Digest]
) -> set[Digest]:
    sightings = history.sightings
    keep: set[int] = set(range(max(0, len(sightings) - 2), len(sightings)))
    for i, s in enumerate(sightings):
        if (since is not None and s.last_seen >= since) or s.digest in running:
            keep.update((i - 1, i, i + 1))
    return {d for i in keep if 0 <= i < len(sightings) and (d := sightings[i].digest) is not None}


def unrecorded_digests(workloads: Iterable[Workload], joined: Joined) -> dict[Digest, ImageRef]:
    """Running registry digests the store knows nothing of (a pin, a pod older than the
    history), each with the repository to fetch it from."""
    out: dict[Digest, ImageRef] = {}
    for w in workloads:
        for p in w.pods:
            for c in p.containers:
                running = c.running
                if running is None or running.kind is not ImageKind.MANIFEST:
                    continue
                digest = running.digest
                if digest in joined.builds or digest in joined.index_of or digest in out:
                    continue
                ref = parse_image(c.image)
                if ref is not None:
                    out[digest] = ref
    return out


async def record_unrecorded(
    wanted: Mapping[Digest, ImageRef],
    *,
    registry: RegistryClient,
    store: Store,
    now: Callable[[], datetime],
) -> list[str]:
    """GET each digest's manifest once and record the indexes among them with their children.

    Only the manifest is read (not `describe`, which also reads a child's config for the
    labels): resolving a pod needs the platforms, and a platform image resolves to itself, so
    it is left for a tag check to record with its labels.
    """
    if not wanted:
        return []

    async def one(digest: Digest, ref: ImageRef) -> BuildInfo | str | None:
        where = ref.without_digest().with_digest(digest)
        try:
            answer = await registry.artifact_manifest(ref, str(digest))
            if answer is None:
                return f"{where}: not in the registry"
            manifest = parse_manifest(*answer, registry=ref.registry, what=f"{where}: manifest")
        except TagwatchError as exc:
            return f"{where}: {exc}"
        if not manifest.is_index:
            return None
        return BuildInfo(manifest.media_type, manifest.platforms, dict(manifest.annotations))

    items = list(wanted.items())
    answers = await asyncio.gather(*(one(d, r) for d, r in items))
    errors = [a for a in answers if isinstance(a, str)]
    at = now()
    with store.begin() as tx:
        for (digest, _ref), answer in zip(items, answers, strict=True):
            if isinstance(answer, BuildInfo):
                tx.record_build(digest, answer, at=at)
    for message in errors:
        log.warning("could not describe %s; comparing it by digest only", message)
    return errors


async def join_history(
    workloads: Sequence[Workload],
    refs: Sequence[ImageRef],
    *,
    store: Store,
    registry: RegistryClient | None,
    now: Callable[[], datetime],
) -> tuple[Joined, list[str]]:
    """The store's history of what the workloads run, and the tags that failed to refresh.

    Unless offline (`registry` None), `refs` are checked first, and a running digest never
    recorded (a pin, a pod older than the history) is fetched with one GET so its platforms
    are known; a registry whose tags just failed to refresh is not asked again.
    """
    failed: dict[ImageRef, str] = {}
    if registry is not None:
        failed = await refresh_tags(refs, registry=registry, store=store, now=now)
    errors = list(failed.values())
    with pause_cycle_collector():
        joined = load_history(store, workloads, refs)
    if registry is None:
        return joined, errors
    down = {ref.registry for ref in failed}
    unrecorded = unrecorded_digests(workloads, joined)
    wanted = {d: ref for d, ref in unrecorded.items() if ref.registry not in down}
    if wanted:
        errors += await record_unrecorded(wanted, registry=registry, store=store, now=now)
        with pause_cycle_collector():
            joined = load_history(store, workloads, refs)
    return joined, errors


async def scan_skew(
    *,
    cluster: AsyncClient,
    store: Store,
    registry: RegistryClient | None,
    namespace: str | None,
    selector: str | None = None,
    now: Callable[[], datetime] = utcnow,
) -> ScanResult:
    """Read pods, refresh their tags (unless `registry` is None: offline) and find skew.

    The collector is paused while records are built, not while registries are asked (their
    errors and connections carry cycles): see app/collector.
    """
    with pause_cycle_collector():
        snapshot = await read_snapshot(cluster, namespace=namespace, selector=selector)
        workloads = group_workloads(snapshot)
        refs = tag_refs(workloads)
    joined, errors = await join_history(workloads, refs, store=store, registry=registry, now=now)
    with pause_cycle_collector():
        report = find_skew(
            workloads,
            joined.histories,
            joined.index_of,
            now(),
            nodes=snapshot.nodes,
            builds=joined.builds,
        )
    return ScanResult(report, tuple(errors))


def report_json(result: ScanResult) -> dict[str, Any]:
    data = result.report.to_json()
    data["refresh_errors"] = list(result.refresh_errors)
    return data
