"""Digest skew: join what pods run with tag histories into findings, predictions and verdicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from tagwatch.core.digests import Digest
from tagwatch.core.moves import BuildInfo, Change, TagHistory, TagMove, moves_of
from tagwatch.core.references import ImageRef
from tagwatch.core.workloads import (
    ContainerRun,
    ImageKind,
    NodeRecord,
    PodRecord,
    PullPolicy,
    RolloutStatus,
    Workload,
    WorkloadKey,
    node_tag_index,
    parse_image,
    rollout_status,
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


class PodState(StrEnum):
    """How one pod's container relates to its tag's history."""

    CURRENT = "current"  # runs what the tag (or the pinned digest) points to now
    STALE = "stale"  # runs bytes the tag has since moved away from
    AHEAD = "ahead"  # runs bytes we have not recorded yet, started after our last sighting
    UNKNOWN = "unknown"  # waiting, a local image ID, or bytes the history does not explain


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else None


def _short(digest: Digest | None) -> str:
    return digest.short if digest else "nothing"


def _move_json(move: TagMove, builds: Mapping[Digest, BuildInfo]) -> dict[str, Any]:
    def revision(d: Digest | None) -> str | None:
        build = builds.get(d) if d else None
        return build.revision if build else None

    return {
        "change": move.change.value,
        "from": str(move.from_digest) if move.from_digest else None,
        "to": str(move.to_digest) if move.to_digest else None,
        "window_start": _iso(move.window_start),
        "detected_at": _iso(move.detected_at),
        "from_revision": revision(move.from_digest),
        "to_revision": revision(move.to_digest),
    }


@dataclass(frozen=True, slots=True)
class PodFinding:
    """One pod's container: what it runs, when it started, and how that relates to the tag."""

    name: str
    node: str | None
    digest: str | None  # RunningImage.key of the canonical digest, None when unknown
    started_at: datetime | None
    state: PodState
    explanation: str
    group: str = ""
    ready: bool = False
    move: TagMove | None = None

    def to_json(self, builds: Mapping[Digest, BuildInfo]) -> dict[str, Any]:
        return {
            "name": self.name,
            "node": self.node,
            "digest": self.digest,
            "started_at": _iso(self.started_at),
            "state": self.state.value,
            "explanation": self.explanation,
            "template": self.group or None,
            "ready": self.ready,
            "move": _move_json(self.move, builds) if self.move else None,
        }


@dataclass(frozen=True, slots=True)
class WorkloadFinding:
    """One container of one workload: its replicas' digests, skew, risk, moves and the fix."""

    key: WorkloadKey
    container: str
    image: str
    skewed: bool
    at_risk: bool
    digests: Mapping[str, tuple[str, ...]]
    pods: tuple[PodFinding, ...]
    tag_digest_now: Digest | None
    moves: tuple[TagMove, ...]
    rollout: RolloutStatus
    reasons: tuple[str, ...] = ()
    risk: str | None = None
    nodes: Mapping[str, str | None] = field(default_factory=dict)
    holders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    last_move_at: datetime | None = None
    repushed_recently: bool = False
    remediation: tuple[str, ...] = ()
    init: bool = False

    def to_json(self, builds: Mapping[Digest, BuildInfo]) -> dict[str, Any]:
        return {
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "container": self.container,
            "image": self.image,
            "skewed": self.skewed,
            "at_risk": self.at_risk,
            "digests": {d: list(pods) for d, pods in self.digests.items()},
            "pods": [p.to_json(builds) for p in self.pods],
            "tag_digest_now": str(self.tag_digest_now) if self.tag_digest_now else None,
            "moves": [_move_json(m, builds) for m in self.moves],
            "reasons": list(self.reasons),
            "risk": self.risk,
            "rollout": {"complete": self.rollout.complete, "reason": self.rollout.reason},
            "nodes": dict(self.nodes),
            "nodes_holding": {d: list(n) for d, n in self.holders.items()},
            "last_move_at": _iso(self.last_move_at),
            "repushed_recently": self.repushed_recently,
            "remediation": list(self.remediation),
            "init_container": self.init,
        }


@dataclass(frozen=True, slots=True)
class SkewReport:
    """Every finding of one scan; `skewed` decides the exit code."""

    findings: tuple[WorkloadFinding, ...]
    builds: Mapping[Digest, BuildInfo] = field(default_factory=dict)
    generated_at: datetime | None = None

    @property
    def skewed(self) -> bool:
        return any(f.skewed for f in self.findings)

    @property
    def at_risk(self) -> bool:
        return any(f.at_risk for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "workloads": [f.to_json(self.builds) for f in self.findings],
            "skewed": sum(1 for f in self.findings if f.skewed),
            "at_risk": sum(1 for f in self.findings if f.at_risk),
            "generated_at": _iso(self.generated_at),
        }


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


class _Context:
    """The shared inputs of one scan, with caches that make 20k pods cheap."""

    def __init__(
        self,
        histories: Mapping[ImageRef, TagHistory],
        index_of: Mapping[Digest, Digest],
        builds: Mapping[Digest, BuildInfo],
        nodes: Sequence[NodeRecord],
        now: datetime,
    ) -> None:
        self.histories = histories
        self.index_of = index_of
        self.builds = builds
        self.nodes = [n for n in nodes if n.ready]
        self.node_index = {n.name: node_tag_index(n) for n in self.nodes}
        self.node_digests: dict[str, set[str]] = {}
        for node in self.nodes:
            for names in node.images:
                for name in names:
                    if "@" in name:
                        self.node_digests.setdefault(name.rpartition("@")[2], set()).add(node.name)
        self.now = now
        self._refs: dict[str, ImageRef | None] = {}
        self._moves: dict[ImageRef, list[TagMove]] = {}
        self._canon_history: dict[ImageRef, list[Digest | None]] = {}
        self.predictions: dict[tuple[ImageRef, PullPolicy, Digest], _Prediction] = {}
        self._history: dict[int, tuple[ImageRef, TagHistory | None]] = {}
        self._canon: dict[tuple[str, str], Digest] = {}
        self._familiar: dict[int, tuple[ImageRef, str]] = {}
        # tag -> {node: digests listed with it}, and the nodes whose list may be cut short
        self.tag_nodes: dict[str, dict[str, frozenset[Digest]]] = {}
        for name, index in self.node_index.items():
            for tag, digests in index.items():
                self.tag_nodes.setdefault(tag, {})[name] = digests
        self.node_names = frozenset(n.name for n in self.nodes)
        self.all_nodes = tuple(sorted(self.node_names))
        self.capped = frozenset(n.name for n in self.nodes if n.capped)

    def ref(self, image: str) -> ImageRef | None:
        if image not in self._refs:
            self._refs[image] = parse_image(image)
        return self._refs[image]

    def canon(self, digest: Digest, now: Digest | None = None) -> Digest:
        """The build a digest stands for: a platform child counts as its index.

        A child listed by the tag's current index maps to that index, so a child shared by an
        old and a new index is never mistaken for the old build.
        """
        key = (digest.encoded, now.encoded if now is not None else "")
        found = self._canon.get(key)
        if found is None:
            found = self.index_of.get(digest, digest)
            if now is not None and digest != now:
                build = self.builds.get(now)
                if build is not None and digest in build.platforms.values():
                    found = now
            self._canon[key] = found
        return found

    def history(self, ref: ImageRef) -> TagHistory | None:
        found = self._history.get(id(ref))
        if found is None or found[0] is not ref:
            key = ref if ref.digest is None else ref.untagged()
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


def _classify_pod(ctx: _Context, pod: PodRecord, run: ContainerRun, group: str) -> PodFinding:
    """One pod's container against its tag's history."""
    state, why, key, move = _judge(ctx, run)
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
    )


_Judgement = tuple[PodState, str, str | None, TagMove | None]


def _judge(ctx: _Context, run: ContainerRun) -> _Judgement:
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
    key = str(canon)
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
            why += f" (it moved here by {_iso(current.first_seen)}, after this container started)"
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
            f"{_iso(move.window_start)}; the tag moved to {_short(move.to_digest)} "
            f"(detected {_iso(move.detected_at)}{ctx.revisions(move)})"
        )
        if started is not None:
            if move.window_start is not None and started <= move.window_start:
                why += f"; this container started before the move, at {_iso(started)}"
            elif started >= move.detected_at:
                why += (
                    f"; it started after the move, at {_iso(started)}: its node had the old "
                    f"bytes cached (imagePullPolicy {run.pull_policy.value})"
                )
            else:
                why += f"; it started during the move window, at {_iso(started)}"
        return PodState.STALE, why, key, move
    current = history.current
    if started is not None and current is not None and started > current.last_seen:
        why = (
            f"runs {canon.short}, never recorded for {ctx.familiar(ref)}; it started at "
            f"{_iso(started)}, after the last check ({_iso(current.last_seen)}): "
            "the tag has probably moved since"
        )
        return PodState.AHEAD, why, key, None
    why = (
        f"runs {canon.short}, never recorded for {ctx.familiar(ref)}: pushed and moved between "
        "checks, or loaded onto the node by hand"
    )
    return PodState.UNKNOWN, why, key, None


def _containers(workload: Workload) -> list[tuple[str, bool]]:
    """Container names in spec order (init containers first), across every pod of the workload."""
    names: dict[str, bool] = {}
    if workload.controller is not None:
        for spec in workload.controller.containers:
            names.setdefault(spec.name, spec.init)
    for pod in workload.pods:
        for c in pod.containers:
            names.setdefault(c.name, c.init)
    return sorted(names.items(), key=lambda item: not item[1])  # stable: init containers first


def _restart_command(key: WorkloadKey) -> str:
    if key.kind in ("Deployment", "StatefulSet", "DaemonSet"):
        return f"kubectl rollout restart {key.kind.lower()}/{key.name} -n {key.namespace}"
    if key.kind == "Pod":
        return f"re-create pod {key.name} -n {key.namespace} (kubectl delete pod, then apply it)"
    return f"kubectl delete pods of {key.kind.lower()}/{key.name} -n {key.namespace}"


@dataclass(frozen=True, slots=True)
class _Prediction:
    """What a new pod would run, grouped by digest (None: cannot tell), node names sorted."""

    by_digest: Mapping[str | None, tuple[str, ...]]

    def by_node(self) -> dict[str, str | None]:
        return dict(sorted((node, d) for d, nodes in self.by_digest.items() for node in nodes))


def _predict(
    ctx: _Context,
    ref: ImageRef,
    policy: PullPolicy,
    canon_now: Digest,
) -> _Prediction:
    """Which digest a new pod would run on each node; cached per (tag, policy, digest now).

    Always: the tag's digest now everywhere. IfNotPresent: what a node lists under the tag,
    else a pull of the tag now, except on nodes whose image list is capped (unknown). Never:
    what a node lists, else it cannot start (unknown).
    """
    key = (ref, policy, canon_now)
    found = ctx.predictions.get(key)
    if found is not None:
        return found
    now_key = str(canon_now)
    cached = {} if policy is PullPolicy.ALWAYS else ctx.tag_nodes.get(str(ref.untagged()), {})
    if policy is PullPolicy.ALWAYS or (
        not cached and not ctx.capped and policy is PullPolicy.IF_NOT_PRESENT
    ):
        prediction = _Prediction({now_key: ctx.all_nodes} if ctx.all_nodes else {})
        ctx.predictions[key] = prediction
        return prediction
    grouped: dict[str | None, tuple[str, ...]] = {}
    by_target: dict[str | None, list[str]] = {}
    for node, digests in cached.items():
        canon = {ctx.canon(d, canon_now) for d in digests}
        target = str(next(iter(canon))) if len(canon) == 1 else None
        by_target.setdefault(target, []).append(node)
    for target, nodes in by_target.items():
        grouped[target] = tuple(sorted(nodes))
    # Nodes without the tag, in name order: unknown under Never or when their list is capped.
    pulls = tuple(n for n in ctx.all_nodes if n not in cached and n not in ctx.capped)
    unknown = tuple(
        n
        for n in ctx.all_nodes
        if n not in cached and (n in ctx.capped or policy is PullPolicy.NEVER)
    )
    if pulls and policy is not PullPolicy.NEVER:
        grouped[now_key] = tuple(sorted({*grouped.get(now_key, ()), *pulls}))
    if unknown:
        grouped[None] = tuple(sorted({*grouped.get(None, ()), *unknown}))
    prediction = _Prediction(grouped)
    ctx.predictions[key] = prediction
    return prediction


def _finding(
    ctx: _Context,
    workload: Workload,
    rollout: RolloutStatus,
    container: str,
    init: bool,
) -> WorkloadFinding | None:
    pods: list[PodFinding] = []
    by_group: dict[str, set[str]] = {}
    digests: dict[str, list[str]] = {}
    runs: list[ContainerRun] = []
    for pod in workload.pods:
        run = next((c for c in pod.containers if c.name == container), None)
        if run is None:
            continue
        runs.append(run)
        group = workload.groups.get(pod.name, "")
        finding = _classify_pod(ctx, pod, run, group)
        pods.append(finding)
        if finding.digest is not None:
            digests.setdefault(finding.digest, []).append(pod.name)
            by_group.setdefault(group, set()).add(finding.digest)
    if not runs:
        return None
    image = _template_image(workload, container) or runs[-1].image
    ref = ctx.ref(image)
    policy = _template_policy(workload, container) or runs[-1].pull_policy
    history = ctx.history(ref) if ref is not None and ref.digest is None else None
    now_digest = ctx.now_digest(history)
    canon_now = ctx.canon(now_digest) if now_digest else None

    reasons: list[str] = []
    skewed = False
    for group, keys in sorted(by_group.items()):
        manifests = {k for k in keys if not k.startswith("image-id:")}
        local_ids = keys - manifests
        if len(manifests) > 1 or len(local_ids) > 1:
            skewed = True
            where = f"ReplicaSet {group}" if workload.key.kind == "Deployment" else "one template"
            if not group:
                where = "one template"
            reasons.append(
                f"pods of {where} run {len(manifests) + len(local_ids)} different digests "
                "under the same tag: silent skew"
            )
    if len(by_group) > 1 and len(digests) > 1 and not skewed:
        state = "complete" if rollout.complete else "in progress or stuck"
        reasons.append(
            f"{len(by_group)} template revisions run different digests on purpose: "
            f"a rollout ({state}: {rollout.reason})"
        )

    moves: list[TagMove] = []
    last_move_at: datetime | None = None
    if history is not None:
        real = [m for m in ctx.moves(history) if m.change is not Change.FIRST_SEEN]
        if real:
            last_move_at = real[-1].detected_at
        starts = [p.started_at for p in pods if p.started_at is not None]
        since = min(starts) if starts else None
        moves = [m for m in real if since is None or m.detected_at >= since]
        if not moves and real:
            moves = real[-1:]
    repushed = last_move_at is not None and ctx.now - last_move_at <= RECENT

    risk: str | None = None
    at_risk = False
    nodes_json: dict[str, str | None] = {}
    running_now = {k for k in digests if not k.startswith("image-id:")}
    if ref is not None and ref.digest is None and canon_now is not None and ctx.nodes:
        predicted = _predict(ctx, ref, policy, canon_now)
        new = sorted(d for d in predicted.by_digest if d is not None and d not in running_now)
        changing = sorted(n for d in new for n in predicted.by_digest[d])
        unknown = list(predicted.by_digest.get(None, ()))
        if running_now and changing and not skewed:
            at_risk = True
            target = ", ".join(d.removeprefix("sha256:")[:12] for d in new)
            why = (
                "imagePullPolicy Always: every container start re-resolves the tag"
                if policy is PullPolicy.ALWAYS
                else f"imagePullPolicy {policy.value} and these nodes lack the running bytes"
            )
            risk = (
                f"{ctx.familiar(ref)} now points to {canon_now.short} but the pods run "
                f"{', '.join(sorted(k.removeprefix('sha256:')[:12] for k in running_now))}: "
                f"the next restart, eviction or scale-up on {_node_list(changing)} would run "
                f"{target} and split the replicas ({why})"
            )
            if unknown:
                risk += f"; cannot tell for {_node_list(unknown)} (image list capped or Never)"

        if at_risk or skewed or running_now != {str(canon_now)}:
            nodes_json = predicted.by_node()  # only where it tells something

    remediation: list[str] = []
    stale = any(p.state is PodState.STALE for p in pods)
    if (skewed or stale or at_risk) and ref is not None and now_digest is not None:
        pin = str(ref.untagged().with_digest(now_digest))  # repo:tag@sha256:…, as `tagwatch pin`
        if policy is PullPolicy.ALWAYS:
            remediation.append(_restart_command(workload.key))
        else:
            remediation.append(
                f"{_restart_command(workload.key)} (with imagePullPolicy Always: under "
                f"{policy.value} nodes holding the old bytes start them again)"
            )
        remediation.append(f"pin the digest: image: {pin}")

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
        holders=_holders(ctx, pods, now_digest),
        last_move_at=last_move_at,
        repushed_recently=repushed,
        remediation=tuple(remediation),
        init=init,
    )


def _holders(
    ctx: _Context,
    pods: Sequence[PodFinding],
    now_digest: Digest | None,
) -> dict[str, tuple[str, ...]]:
    """Which nodes hold which bytes: nodes running them, and nodes whose image list names them."""
    out: dict[str, set[str]] = {}
    for p in pods:
        if p.digest is not None and p.node:
            out.setdefault(p.digest, set()).add(p.node)
    wanted = {k for k in out if not k.startswith("image-id:")}
    if now_digest is not None:
        wanted.add(str(now_digest))
    for key in wanted:
        cached = ctx.node_digests.get(key)
        if cached:
            out.setdefault(key, set()).update(cached)
    return {k: tuple(sorted(v)) for k, v in sorted(out.items())}


def _node_list(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    more = len(names) - limit
    return f"nodes {shown}" + (f" and {more} more" if more > 0 else "")


def _template_image(workload: Workload, container: str) -> str | None:
    if workload.controller is None:
        return None
    spec = next((s for s in workload.controller.containers if s.name == container), None)
    return spec.image if spec else None


def _template_policy(workload: Workload, container: str) -> PullPolicy | None:
    if workload.controller is None:
        return None
    spec = next((s for s in workload.controller.containers if s.name == container), None)
    return spec.pull_policy if spec else None


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

    `histories` is keyed by the untagged-digest tag reference (`ImageRef.untagged()`);
    `index_of` maps a platform child digest to its index, so both count as one build;
    `nodes` carry the image caches used to predict what a new pod would run.
    """
    ctx = _Context(histories, index_of, builds or {}, nodes, now)
    findings: list[WorkloadFinding] = []
    for workload in workloads:
        rollout = rollout_status(workload.controller)
        for container, init in _containers(workload):
            finding = _finding(ctx, workload, rollout, container, init)
            if finding is not None:
                findings.append(finding)
    return SkewReport(tuple(findings), builds=builds or {}, generated_at=now)


@dataclass(frozen=True, slots=True)
class ContainerVerdict:
    """One container of a verified workload: what its ready pods run and what they should."""

    container: str
    image: str
    expected: Digest | None
    digests: Mapping[str, tuple[str, ...]]
    passed: bool
    problem: str | None = None
    fix: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "image": self.image,
            "expected": str(self.expected) if self.expected else None,
            "digests": {d: list(p) for d, p in self.digests.items()},
            "passed": self.passed,
            "problem": self.problem,
            "fix": list(self.fix),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The post-deploy gate: passed only if the rollout completed and every container checks out."""

    key: WorkloadKey
    rollout: RolloutStatus
    containers: tuple[ContainerVerdict, ...]
    ready_pods: int

    @property
    def passed(self) -> bool:
        return (
            self.rollout.complete and self.ready_pods > 0 and all(c.passed for c in self.containers)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.key.kind,
            "namespace": self.key.namespace,
            "name": self.key.name,
            "passed": self.passed,
            "rollout": {"complete": self.rollout.complete, "reason": self.rollout.reason},
            "ready_pods": self.ready_pods,
            "containers": [c.to_json() for c in self.containers],
        }


def judge_rollout(
    workload: Workload,
    histories: Mapping[ImageRef, TagHistory],
    index_of: Mapping[Digest, Digest],
    now: datetime,
    *,
    builds: Mapping[Digest, BuildInfo] | None = None,
) -> Verdict:
    """Every ready pod must run one digest, equal to what the tag points to now (or the pin).

    Init containers count only while running (sidecars); finished ones are not judged.
    """
    ctx = _Context(histories, index_of, builds or {}, (), now)
    rollout = rollout_status(workload.controller)
    ready = [p for p in workload.pods if p.ready]
    verdicts: list[ContainerVerdict] = []
    for container, _init in _containers(workload):
        image = _template_image(workload, container)
        runs: list[tuple[str, ContainerRun]] = []
        for pod in ready:
            run = next((c for c in pod.containers if c.name == container), None)
            if run is None or (run.init and run.state != "running"):
                continue
            image = image or run.image
            runs.append((pod.name, run))
        if image is None or not runs:
            continue
        ref = ctx.ref(image)
        target = ref.digest if ref is not None and ref.digest else None
        if ref is not None and target is None:
            target = ctx.now_digest(ctx.history(ref))
        digests: dict[str, list[str]] = {}
        unknown: list[str] = []
        for pod_name, run in runs:
            if run.running is None:
                unknown.append(pod_name)
            elif run.running.kind is ImageKind.CONFIG:
                digests.setdefault(run.running.key, []).append(pod_name)
            else:
                key = str(ctx.canon(run.running.digest, target))
                digests.setdefault(key, []).append(pod_name)
        verdicts.append(_container_verdict(ctx, workload.key, container, image, digests, unknown))
    return Verdict(workload.key, rollout, tuple(verdicts), len(ready))


def _container_verdict(
    ctx: _Context,
    key: WorkloadKey,
    container: str,
    image: str,
    digests: Mapping[str, list[str]],
    unknown: Sequence[str],
) -> ContainerVerdict:
    frozen = {k: tuple(v) for k, v in digests.items()}
    ref = ctx.ref(image)
    if ref is None:
        return ContainerVerdict(
            container, image, None, frozen, False, f"image {image!r} is invalid"
        )
    expected: Digest | None
    if ref.digest is not None:
        expected = ref.digest
    else:
        history = ctx.history(ref)
        expected = ctx.now_digest(history)
        if expected is None:
            return ContainerVerdict(
                container,
                image,
                None,
                frozen,
                False,
                f"no recorded digest for {ref.familiar}: run `tagwatch check {ref.familiar}`",
            )
    want = str(ctx.canon(expected))
    pin = f"pin the digest: image: {ref.untagged().with_digest(expected)}"
    restart = _restart_command(key)
    if unknown:
        return ContainerVerdict(
            container,
            image,
            expected,
            frozen,
            False,
            f"ready pods report no imageID: {', '.join(unknown)}",
            (restart,),
        )
    if len(frozen) > 1:
        spread = "; ".join(f"{d} on {', '.join(p)}" for d, p in sorted(frozen.items()))
        return ContainerVerdict(
            container,
            image,
            expected,
            frozen,
            False,
            f"ready pods run {len(frozen)} different digests: {spread}",
            (f"{restart} with imagePullPolicy Always", pin),
        )
    if frozen and want not in frozen:
        got = next(iter(frozen))
        what = "the pinned digest" if ref.digest else f"what {ctx.familiar(ref)} points to now"
        return ContainerVerdict(
            container,
            image,
            expected,
            frozen,
            False,
            f"ready pods run {got}, not {what} ({expected})",
            (f"{restart} with imagePullPolicy Always", pin),
        )
    return ContainerVerdict(container, image, expected, frozen, bool(frozen))
