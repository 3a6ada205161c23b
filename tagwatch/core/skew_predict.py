"""Prediction: which bytes a new pod of a tag would run on each node, and who holds which bytes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tagwatch.core.digests import Digest, Platform
from tagwatch.core.references import ImageRef
from tagwatch.core.skew_findings import PodFinding
from tagwatch.core.skew_scan import ScanContext
from tagwatch.core.workloads import ImageKey, PullPolicy

__all__ = ["Prediction", "changing_nodes", "holders", "node_list", "predict"]


@dataclass(frozen=True, slots=True)
class Prediction:
    """What a new pod would run, grouped by build (None: cannot tell), node names sorted."""

    by_digest: Mapping[ImageKey | None, tuple[str, ...]]

    def by_node(self) -> dict[str, ImageKey | None]:
        pairs = [(node, d) for d, nodes in self.by_digest.items() for node in nodes]
        return dict(sorted(pairs, key=lambda pair: pair[0]))


def predict(ctx: ScanContext, ref: ImageRef, policy: PullPolicy, canon_now: Digest) -> Prediction:
    """Which build a new pod would run on each node; cached per (tag, policy, digest now).

    Always: the tag's digest now everywhere. IfNotPresent: what a node lists under the tag,
    else a pull of the tag now, except on nodes whose image list is capped (unknown). Never:
    what a node lists, else it cannot start (unknown).
    """
    key = (ref, policy, canon_now)
    found = ctx.predictions.get(key)
    if found is not None:
        return found
    now_key = ImageKey(canon_now)
    cached = {} if policy is PullPolicy.ALWAYS else ctx.tag_nodes.get(str(ref.without_digest()), {})
    if policy is PullPolicy.ALWAYS or (
        not cached and not ctx.capped and policy is PullPolicy.IF_NOT_PRESENT
    ):
        prediction = Prediction({now_key: ctx.all_nodes} if ctx.all_nodes else {})
        ctx.predictions[key] = prediction
        return prediction
    by_target: dict[ImageKey | None, list[str]] = {}
    for node, digests in cached.items():
        canon = {ctx.canon(d, canon_now) for d in digests}
        target = ImageKey(next(iter(canon))) if len(canon) == 1 else None
        by_target.setdefault(target, []).append(node)
    grouped = {target: tuple(sorted(nodes)) for target, nodes in by_target.items()}
    # Nodes without the tag: a pull of the tag now, or unknown under Never or when their
    # list is capped. Set arithmetic, not a walk of every node: this runs per workload.
    missing = ctx.node_names.difference(cached)
    pulls = missing.difference(ctx.capped) if policy is not PullPolicy.NEVER else frozenset()
    unknown = missing if policy is PullPolicy.NEVER else missing & ctx.capped
    if pulls:
        grouped[now_key] = tuple(sorted(pulls.union(grouped.get(now_key, ()))))
    if unknown:
        grouped[None] = tuple(sorted(unknown.union(grouped.get(None, ()))))
    prediction = Prediction(grouped)
    ctx.predictions[key] = prediction
    return prediction


def changing_nodes(
    ctx: ScanContext,
    target: ImageKey,
    nodes: Sequence[str],
    running: set[tuple[Platform | None, Digest]],
) -> list[str]:
    """The nodes (of the scan's ready nodes) where a new pod would start `target` and run
    another image than the pods do.

    Platform-aware: a node runs the child of `target` for its own platform, so a target that
    differs from the running index only in attestations changes nothing. Decided once per
    platform (a few), then the nodes of the platforms that change are kept (many).
    """
    changed: set[Platform | None] = set()
    for platform in ctx.nodes_by_platform:
        identity = ctx.identity_on(target.digest, platform)
        if identity.image is None or (platform, identity.image) not in running:
            changed.add(platform)
    if not changed:
        return []
    if len(changed) == len(ctx.nodes_by_platform):
        return list(nodes)
    keep = frozenset().union(*(ctx.nodes_by_platform[p] for p in changed))
    return [n for n in nodes if n in keep]


def holders(
    ctx: ScanContext,
    pods: Sequence[PodFinding],
    now_digest: Digest | None,
) -> dict[ImageKey, tuple[str, ...]]:
    """Which nodes hold which bytes: nodes running them, and nodes whose image list names them."""
    out: dict[ImageKey, set[str]] = {}
    for p in pods:
        if p.digest is not None and p.node:
            out.setdefault(p.digest, set()).add(p.node)
    wanted = {k for k in out if not k.local}
    if now_digest is not None:
        wanted.add(ImageKey(now_digest))
    for key in wanted:
        cached = ctx.node_digests.get(str(key.digest))
        if cached:
            out.setdefault(key, set()).update(cached)
    return {k: tuple(sorted(out[k])) for k in sorted(out, key=str)}


def node_list(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    more = len(names) - limit
    return f"nodes {shown}" + (f" and {more} more" if more > 0 else "")
