"""One pod's container against its tag's history: current, stale, ahead or unknown, and why."""

from __future__ import annotations

from tagwatch.core.builds import PlatformImage, platform_child
from tagwatch.core.digests import Digest
from tagwatch.core.moves import TagMove
from tagwatch.core.skew_findings import PodFinding, PodState
from tagwatch.core.skew_scan import ScanContext
from tagwatch.core.times import iso_utc
from tagwatch.core.workloads import ContainerRun, ImageKey, ImageKind, PodRecord

__all__ = ["classify_pod"]

_Judgement = tuple[PodState, str, ImageKey | None, TagMove | None]


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


def _same_platform_image(
    ctx: ScanContext, identity: PlatformImage | None, now: Digest | None
) -> bool:
    """Whether the pod runs the very platform image the tag's index now lists for its node."""
    if identity is None or identity.image is None or identity.platform is None or now is None:
        return False
    build = ctx.builds.get(now)
    if build is None or not build.platforms:
        return False
    return platform_child(build.platforms, identity.platform) == identity.image


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
    ref = ctx.ref(run.image)
    history = ctx.history(ref) if ref is not None and ref.digest is None else None
    now_digest = ctx.now_digest(history)
    canon = ctx.canon(running.digest, now_digest or (ref.digest if ref else None))
    key = ImageKey(canon)
    if ref is None:
        why = f"image {run.image!r} does not parse as a reference"
        return PodState.UNKNOWN, why, key, None
    if ref.digest is not None:
        if canon == ctx.canon(ref.digest):
            why = "runs the pinned digest"
            return PodState.CURRENT, why, key, None
        why = f"runs {canon.short} but the spec pins {ref.digest.short}"
        return PodState.UNKNOWN, why, key, None
    if history is None:
        why = (
            f"no recorded history for {ctx.familiar(ref)}: run `tagwatch check {ctx.familiar(ref)}`"
        )
        return PodState.UNKNOWN, why, key, None
    canon_now = ctx.canon(now_digest) if now_digest else None
    started = run.started_at
    if canon == canon_now:
        why = f"runs what {ctx.familiar(ref)} points to now"
        current = history.current
        if started and current and started < current.first_seen and len(history.sightings) > 1:
            why += (
                f" (it moved here by {iso_utc(current.first_seen)}, after this container started)"
            )
        return PodState.CURRENT, why, key, None
    if identity is not None and _same_platform_image(ctx, identity, now_digest):
        why = (
            f"runs the {identity.platform} image {_short(identity.image)} that "
            f"{ctx.familiar(ref)} points to now; its index {canon.short} differs from "
            f"{_short(now_digest)} only in attestations or annotations"
        )
        return PodState.CURRENT, why, key, None
    canon_list = ctx.canon_history(history)
    if canon in canon_list:
        last = max(i for i, d in enumerate(canon_list) if d == canon)
        moves = ctx.moves(history)
        move = moves[last + 1] if last + 1 < len(moves) else None
        if move is None:  # the tag is current on it after all (a deleted tag): be honest
            why = f"runs {canon.short}, the last digest {ctx.familiar(ref)} had"
            return PodState.UNKNOWN, why, key, None
        why = (
            f"runs {canon.short}, which {ctx.familiar(ref)} pointed to until "
            f"{iso_utc(move.window_start)}; the tag moved to {_short(move.to_digest)} "
            f"(detected {iso_utc(move.detected_at)}{ctx.revisions(move)})"
        )
        if started is not None:
            if move.window_start is not None and started <= move.window_start:
                why += f"; this container started before the move, at {iso_utc(started)}"
            elif started >= move.detected_at:
                why += (
                    f"; it started after the move, at {iso_utc(started)}: its node had the old "
                    f"bytes cached (imagePullPolicy {run.pull_policy.value})"
                )
            else:
                why += f"; it started during the move window, at {iso_utc(started)}"
        return PodState.STALE, why, key, move
    current = history.current
    if started is not None and current is not None and started > current.last_seen:
        why = (
            f"runs {canon.short}, never recorded for {ctx.familiar(ref)}; it started at "
            f"{iso_utc(started)}, after the last check ({iso_utc(current.last_seen)}): "
            "the tag has probably moved since"
        )
        return PodState.AHEAD, why, key, None
    why = (
        f"runs {canon.short}, never recorded for {ctx.familiar(ref)}: pushed and moved between "
        "checks, or loaded onto the node by hand"
    )
    return PodState.UNKNOWN, why, key, None
