"""Digest skew: join what pods run with tag histories into one finding per workload container.

The parts live beside it: skew_findings (the typed results), skew_pods (one pod against its
tag), skew_predict (what a new pod would run), skew_fix (remediation text), skew_verdict
(the post-deploy gate), and core/builds (the one "same build" rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from tagwatch.core.builds import PlatformImage
from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, Change, TagHistory, TagMove
from tagwatch.core.references import ImageRef
from tagwatch.core.rollouts import RolloutStatus, rollout_status, stuck_rollout
from tagwatch.core.skew_findings import PodFinding, PodState, SkewReport, WorkloadFinding
from tagwatch.core.skew_fix import skew_remedies, stuck_remedies
from tagwatch.core.skew_pods import classify_pod
from tagwatch.core.skew_predict import changing_nodes, holders, node_list, predict
from tagwatch.core.skew_scan import ScanContext, containers_of, template_spec
from tagwatch.core.skew_verdict import ContainerVerdict, Verdict, judge_rollout
from tagwatch.core.workloads import (
    ContainerRun,
    ImageKey,
    ImageKind,
    NodeRecord,
    PodRecord,
    PullPolicy,
    Workload,
    parse_image,
)

__all__ = [
    "RECENT",
    "ContainerVerdict",
    "PodFinding",
    "PodState",
    "SkewReport",
    "Verdict",
    "WorkloadFinding",
    "find_skew",
    "judge_rollout",
    "tag_refs",
]

#: A move this recent counts as "re-pushed recently" in the checklist.
RECENT = timedelta(hours=24)


def tag_refs(workloads: Iterable[Workload]) -> list[ImageRef]:
    """The tags (not pinned digests) that the workloads' containers name, each once."""
    seen: dict[ImageRef, None] = {}
    cache: dict[str, ImageRef | None] = {}
    for workload in workloads:
        for pod in workload.pods:
            for c in pod.containers:
                if c.image not in cache:
                    cache[c.image] = parse_image(c.image)
                ref = cache[c.image]
                if ref is not None and ref.digest is None:
                    seen[ref] = None
    return list(seen)


def _splits(keys: set[ImageKey], identities: Sequence[PlatformImage]) -> bool:
    """Pods of one template run different code: two local IDs, or no build every pod fits.

    Platform for platform: a pod fits every recorded build whose child for its node's
    platform is the image it runs, so an index re-pushed with the same platform images, or
    one index on amd64 and arm64 nodes, is one build; two amd64 children are not.
    """
    if len({k for k in keys if k.local}) > 1:
        return True
    common: frozenset[Digest] | None = None
    for identity in identities:
        common = identity.builds if common is None else common & identity.builds
        if not common:
            return True
    return False


def _skew_reasons(
    workload: Workload,
    by_group: Mapping[str, set[ImageKey]],
    identities: Mapping[str, list[PlatformImage]],
    spread: int,
    rollout: RolloutStatus,
    stuck: str | None,
) -> tuple[bool, list[str]]:
    """Skewed when pods of one template run different code; several templates are a rollout."""
    reasons: list[str] = []
    skewed = False
    for group, keys in sorted(by_group.items()):
        where = f"ReplicaSet {group}" if workload.key.kind == "Deployment" else "one template"
        if not group:
            where = "one template"
        if _splits(keys, identities.get(group, [])):
            skewed = True
            reasons.append(
                f"pods of {where} run {len(keys)} different digests under the same tag: silent skew"
            )
        elif len({k for k in keys if not k.local}) > 1:
            reasons.append(
                f"pods of {where} run {len(keys)} index digests with the same platform images "
                "(only attestations or annotations differ): not skew"
            )
    if stuck is not None:
        reasons.append(f"the rollout is stuck: {stuck}")
    elif len(by_group) > 1 and spread > 1 and not skewed:
        state = "complete" if rollout.complete else "in progress"
        reasons.append(
            f"{len(by_group)} template revisions run different digests on purpose: "
            f"a rollout ({state}: {rollout.reason})"
        )
    return skewed, reasons


def _moves_shown(
    ctx: ScanContext, history: TagHistory | None, pods: Sequence[PodFinding]
) -> tuple[list[TagMove], datetime | None]:
    """The moves since the earliest container start (at least the last one), and when it moved."""
    if history is None:
        return [], None
    real = [m for m in ctx.moves(history) if m.change is not Change.FIRST_SEEN]
    if not real:
        return [], None
    starts = [p.started_at for p in pods if p.started_at is not None]
    since = min(starts) if starts else None
    moves = [m for m in real if since is None or m.detected_at >= since]
    return (moves or real[-1:]), real[-1].detected_at


def _container(pod: PodRecord, name: str) -> ContainerRun | None:
    for run in pod.containers:
        if run.name == name:
            return run
    return None


def _finding(
    ctx: ScanContext,
    workload: Workload,
    rollout: RolloutStatus,
    container: str,
    init: bool,
    stuck: str | None,
) -> WorkloadFinding | None:
    pods: list[PodFinding] = []
    by_group: dict[str, set[ImageKey]] = {}
    identities: dict[str, list[PlatformImage]] = {}
    digests: dict[ImageKey, list[str]] = {}
    runs: list[ContainerRun] = []
    for pod in workload.pods:
        run = _container(pod, container)
        if run is None:
            continue
        runs.append(run)
        group = workload.groups.get(pod.name, "")
        running = run.running
        identity = (
            ctx.identity(running.digest, pod.node)
            if running is not None and running.kind is ImageKind.MANIFEST
            else None
        )
        finding = classify_pod(ctx, pod, run, group, identity)
        pods.append(finding)
        if finding.digest is not None:
            digests.setdefault(finding.digest, []).append(pod.name)
            by_group.setdefault(group, set()).add(finding.digest)
        if identity is not None:
            identities.setdefault(group, []).append(identity)
    if not runs:
        return None
    spec = template_spec(workload, container)
    image = (spec.image if spec else None) or runs[-1].image
    ref = ctx.ref(image)
    policy = spec.pull_policy if spec else runs[-1].pull_policy
    history = ctx.history(ref) if ref is not None and ref.digest is None else None
    now_digest = ctx.now_digest(history)
    canon_now = ctx.canon(now_digest) if now_digest else None

    skewed, reasons = _skew_reasons(workload, by_group, identities, len(digests), rollout, stuck)
    moves, last_move_at = _moves_shown(ctx, history, pods)
    repushed = last_move_at is not None and ctx.now - last_move_at <= RECENT

    risk: str | None = None
    at_risk = False
    nodes_json: dict[str, ImageKey | None] = {}
    running_now = {k for k in digests if not k.local}
    if ref is not None and ref.digest is None and canon_now is not None and ctx.nodes:
        predicted = predict(ctx, ref, policy, canon_now)
        # Pods share their PlatformImage values (ScanContext.identity): each counts once.
        unique = {id(i): i for group in identities.values() for i in group}
        running_images = {(i.platform, i.image) for i in unique.values() if i.image}
        moving = {
            d: changing_nodes(ctx, d, predicted.by_digest[d], running_images)
            for d in predicted.by_digest
            if d is not None and d not in running_now
        }
        new = sorted((d for d, nodes in moving.items() if nodes), key=str)
        changing = sorted(n for d in new for n in moving[d])
        unknown = list(predicted.by_digest.get(None, ()))
        if running_now and changing and not skewed:
            at_risk = True
            target = ", ".join(d.digest.short for d in new)
            why = (
                "imagePullPolicy Always: every container start re-resolves the tag"
                if policy is PullPolicy.ALWAYS
                else f"imagePullPolicy {policy.value} and these nodes lack the running bytes"
            )
            risk = (
                f"{ctx.familiar(ref)} now points to {canon_now.short} but the pods run "
                f"{', '.join(sorted(k.digest.short for k in running_now))}: "
                f"the next restart, eviction or scale-up on {node_list(changing)} would run "
                f"{target} and split the replicas ({why})"
            )
            if unknown:
                risk += f"; cannot tell for {node_list(unknown)} (image list capped or Never)"

        if at_risk or skewed or running_now != {ImageKey(canon_now)}:
            nodes_json = predicted.by_node()  # only where it tells something

    remediation: list[str] = []
    stale = any(p.state is PodState.STALE for p in pods)
    if stuck is not None:
        paused = workload.controller is not None and workload.controller.paused
        remediation = stuck_remedies(workload.key, paused)
    if (skewed or stale or at_risk) and ref is not None and now_digest is not None:
        remediation += skew_remedies(workload.key, ref, policy, now_digest)

    return WorkloadFinding(
        key=workload.key,
        container=container,
        image=image,
        skewed=skewed,
        at_risk=at_risk,
        digests={k: tuple(v) for k, v in digests.items()},
        pods=tuple(pods),
        tag_digest_now=now_digest,
        moves=tuple(moves),
        rollout=rollout,
        reasons=tuple(reasons),
        risk=risk,
        nodes=nodes_json,
        holders=holders(ctx, pods, now_digest),
        last_move_at=last_move_at,
        repushed_recently=repushed,
        remediation=tuple(remediation),
        init=init,
        stuck_rollout=stuck is not None,
        stuck_reason=stuck,
        templates={g: tuple(sorted(keys, key=str)) for g, keys in sorted(by_group.items()) if g},
    )


def find_skew(
    workloads: Sequence[Workload],
    histories: Mapping[ImageRef, TagHistory],
    index_of: Mapping[Digest, Digest],
    now: datetime,
    *,
    nodes: Sequence[NodeRecord] = (),
    builds: Mapping[Digest, BuildInfo] | None = None,
) -> SkewReport:
    """Cross-reference every workload's containers with their tags' histories.

    `histories` is keyed by the tag reference without a digest (`ImageRef.without_digest()`);
    `index_of` maps a platform child digest to its index, so both count as one build;
    `nodes` carry the image caches used to predict what a new pod would run.
    """
    ctx = ScanContext(histories, index_of, builds or {}, nodes, now)
    findings: list[WorkloadFinding] = []
    for workload in workloads:
        rollout = rollout_status(workload.controller)
        stuck = stuck_rollout(workload, now)
        for container, init in containers_of(workload):
            finding = _finding(ctx, workload, rollout, container, init, stuck)
            if finding is not None:
                findings.append(finding)
    return SkewReport(tuple(findings), builds=builds or {}, generated_at=now)
