"""One pod's container against its tag's history: current, stale, ahead or unknown, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tagwatch.core.builds import PlatformImage
from tagwatch.core.digests import Digest
from tagwatch.core.moves import TagMove
from tagwatch.core.skew_findings import PodFinding, PodState
from tagwatch.core.skew_scan import ScanContext
from tagwatch.core.times import iso_seconds
from tagwatch.core.workloads import ContainerRun, ImageKey, ImageKind, PodRecord

__all__ = ["PodBasis", "classify_pod"]

_Judgement = tuple[PodState, str, ImageKey | None, TagMove | None]


def _when(at: datetime | None) -> str:
    """A time in an explanation, for people: to the second (the JSON has every digit)."""
    return iso_seconds(at) if at else "an unknown time"


def _short(digest: Digest | None) -> str:
    return digest.short if digest else "nothing"


def classify_pod(
    ctx: ScanContext,
    pod: PodRecord,
    run: ContainerRun,
    group: str,
    identity: PlatformImage | None,
) -> PodFinding:
    """One pod's container against its tag's history; `identity` is the platform image it
    runs (ScanContext.identity), None for a local image ID or no imageID."""
    state, why, key, move = _judge(ctx, run, identity)
    return PodFinding(
        name=pod.name,
        node=pod.node,
        digest=key,
        started_at=run.started_at,
        state=state,
        explanation=why,
        group=group,
        ready=pod.ready and run.ready,
        move=move,
        platform=ctx.platforms.get(pod.node) if pod.node else None,
        platform_image=identity.image if identity else None,
    )


def _judge(ctx: ScanContext, run: ContainerRun, identity: PlatformImage | None) -> _Judgement:
    running = run.running
    if running is None:
        why = f"container is {run.state} and reports no imageID yet"
        return PodState.UNKNOWN, why, None, None
    if running.kind is ImageKind.CONFIG:
        why = (
            f"the runtime reports a local image ID ({running.digest.short}), not a registry "
            "digest: it cannot be matched with the tag's history"
        )
        return PodState.UNKNOWN, why, running.key, None
    # Every pod of a template that runs one image on one platform shares all but its start.
    memo = (run.image, running.digest.encoded, id(identity))
    found = ctx.pod_bases.get(memo)
    if found is None or found[0] is not identity:
        found = (identity, _basis(ctx, run.image, running.digest, identity))
        ctx.pod_bases[memo] = found
    return _started(found[1], run)


@dataclass(frozen=True, slots=True)
class PodBasis:
    """A pod's judgement without its container's start time, and how the start changes it.

    `when` is CURRENT's "moved here after it started" suffix (`suffix`, when the container
    started before `at`), STALE's account of the start against the move, or AHEAD, which a
    start after `at` (the last check) turns UNKNOWN into; None when the start changes nothing.
    """

    state: PodState
    why: str
    key: ImageKey
    move: TagMove | None = None
    when: str | None = None  # "moved-here" | "stale" | "ahead"
    at: datetime | None = None
    suffix: str = ""
    familiar: str = ""


def _basis(
    ctx: ScanContext, image: str, digest: Digest, identity: PlatformImage | None
) -> PodBasis:
    ref = ctx.ref(image)
    history = ctx.history(ref) if ref is not None and ref.digest is None else None
    now_digest = ctx.now_digest(history)
    canon = ctx.canon(digest, now_digest or (ref.digest if ref else None))
    key = ImageKey(canon)
    if ref is None:
        return PodBasis(PodState.UNKNOWN, f"image {image!r} does not parse as a reference", key)
    if ref.digest is not None:
        if canon == ctx.canon(ref.digest):
            return PodBasis(PodState.CURRENT, "runs the pinned digest", key)
        why = f"runs {canon.short} but the spec pins {ref.digest.short}"
        return PodBasis(PodState.UNKNOWN, why, key)
    familiar = ctx.familiar(ref)
    if history is None:
        why = f"no recorded history for {familiar}: run `tagwatch check {familiar}`"
        return PodBasis(PodState.UNKNOWN, why, key)
    canon_now = ctx.canon(now_digest) if now_digest else None
    current = history.current
    if canon == canon_now:
        why = f"runs what {familiar} points to now"
        if current is not None and len(history.sightings) > 1:
            suffix = (
                f" (it moved here by {iso_seconds(current.first_seen)}, "
                "after this container started)"
            )
            return PodBasis(
                PodState.CURRENT, why, key, when="moved-here", at=current.first_seen, suffix=suffix
            )
        return PodBasis(PodState.CURRENT, why, key)
    if identity is not None and ctx.same_platform_image(identity, now_digest):
        why = (
            f"runs the {identity.platform} image {_short(identity.image)} that "
            f"{familiar} points to now; its index {canon.short} differs from "
            f"{_short(now_digest)} only in attestations or annotations"
        )
        return PodBasis(PodState.CURRENT, why, key)
    canon_list = ctx.canon_history(history)
    if canon in canon_list:
        last = max(i for i, d in enumerate(canon_list) if d == canon)
        moves = ctx.moves(history)
        move = moves[last + 1] if last + 1 < len(moves) else None
        if move is None:  # the tag is current on it after all (a deleted tag): be honest
            why = f"runs {canon.short}, the last digest {familiar} had"
            return PodBasis(PodState.UNKNOWN, why, key)
        why = (
            f"runs {canon.short}, which {familiar} pointed to until "
            f"{_when(move.window_start)}; the tag moved to {_short(move.to_digest)} "
            f"(detected {iso_seconds(move.detected_at)}{ctx.revisions(move)})"
        )
        return PodBasis(PodState.STALE, why, key, move, when="stale")
    why = (
        f"runs {canon.short}, never recorded for {familiar}: pushed and moved between "
        "checks, or loaded onto the node by hand"
    )
    at = current.last_seen if current is not None else None
    return PodBasis(PodState.UNKNOWN, why, key, when="ahead", at=at, familiar=familiar)


def _started(basis: PodBasis, run: ContainerRun) -> _Judgement:
    """The basis with what this container's start time adds to it."""
    started = run.started_at
    state, why, key, move = basis.state, basis.why, basis.key, basis.move
    if basis.when is None or started is None:
        return state, why, key, move
    if basis.when == "moved-here":
        if basis.at is not None and started < basis.at:
            why += basis.suffix
    elif basis.when == "stale" and move is not None:
        if move.window_start is not None and started <= move.window_start:
            why += f"; this container started before the move, at {iso_seconds(started)}"
        elif started >= move.detected_at:
            why += (
                f"; it started after the move, at {iso_seconds(started)}: its node had the old "
                f"bytes cached (imagePullPolicy {run.pull_policy.value})"
            )
        else:
            why += f"; it started during the move window, at {iso_seconds(started)}"
    elif basis.when == "ahead" and basis.at is not None and started > basis.at:
        why = (
            f"runs {key.digest.short}, never recorded for {basis.familiar}; it started at "
            f"{iso_seconds(started)}, after the last check ({iso_seconds(basis.at)}): "
            "the tag has probably moved since"
        )
        return PodState.AHEAD, why, key, None
    return state, why, key, move
