"""Pure skew decisions (core/skew.py) over hand-made histories and pod records: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from tagwatch.core.digests import OCI_INDEX, Digest, Platform
from tagwatch.core.moves import BuildInfo, Change, Sighting, TagHistory
from tagwatch.core.references import ImageRef
from tagwatch.core.skew import (
    PodState,
    SkewReport,
    Verdict,
    WorkloadFinding,
    find_skew,
    judge_rollout,
    tag_refs,
)
from tagwatch.core.workloads import (
    NODE_IMAGES_CAP,
    ContainerRun,
    ContainerSpec,
    ControllerRecord,
    ImageKey,
    NodeRecord,
    Owner,
    PodRecord,
    PullPolicy,
    ReplicaSetRecord,
    Snapshot,
    Workload,
    group_workloads,
    normalise_image_id,
)

M = timedelta(minutes=1)
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
NOW = T0 + 61 * M
REPO = "registry.example.com/shop/web"
IMAGE = f"{REPO}:prod"
REF = ImageRef.parse(IMAGE)


def dg(c: str) -> Digest:
    return Digest("sha256", c * 64)


A, B, X = dg("a"), dg("b"), dg("e")


def history(
    *spans: tuple[Digest | None, datetime, datetime], ref: ImageRef = REF
) -> dict[ImageRef, TagHistory]:
    return {ref: TagHistory(ref, tuple(Sighting(d, first, last) for d, first, last in spans))}


#: A seen from T0 to T0+20m, then B from T0+30m to T0+60m: one move, in (T0+20m, T0+30m].
MOVED = history((A, T0, T0 + 20 * M), (B, T0 + 30 * M, T0 + 60 * M))


def run(
    image_id: str | Digest | None,
    started: datetime | None = None,
    *,
    name: str = "web",
    image: str = IMAGE,
    policy: PullPolicy = PullPolicy.IF_NOT_PRESENT,
    state: str = "running",
    init: bool = False,
) -> ContainerRun:
    raw = f"{REPO}@{image_id}" if isinstance(image_id, Digest) else image_id
    return ContainerRun(
        name=name,
        image=image,
        pull_policy=policy,
        running=normalise_image_id(raw),
        state=state,
        started_at=started,
        ready=state == "running",
        init=init,
    )


def pod(
    name: str,
    *containers: ContainerRun,
    owner: Owner | None = Owner("ReplicaSet", "web-5d8f"),
    node: str = "node-a",
    template_hash: str | None = "5d8f",
    ready: bool = True,
    namespace: str = "shop",
) -> PodRecord:
    return PodRecord(
        namespace=namespace,
        name=name,
        node=node,
        owner=owner,
        containers=containers,
        template_hash=template_hash,
        ready=ready,
    )


def deployment(
    name: str = "web",
    *,
    specs: Sequence[ContainerSpec] | None = None,
    replicas: int = 2,
    updated: int | None = None,
    status_replicas: int | None = None,
    progressing: str | None = "NewReplicaSetAvailable",
    policy: PullPolicy = PullPolicy.IF_NOT_PRESENT,
) -> ControllerRecord:
    upd = replicas if updated is None else updated
    return ControllerRecord(
        kind="Deployment",
        namespace="shop",
        name=name,
        containers=tuple(specs or (ContainerSpec("web", IMAGE, policy),)),
        generation=2,
        observed_generation=2,
        replicas=replicas,
        updated_replicas=upd,
        available_replicas=upd,
        ready_replicas=upd,
        status_replicas=replicas if status_replicas is None else status_replicas,
        progressing_reason=progressing,
    )


def web(
    *pods: PodRecord, controller: ControllerRecord | None = None, rs: Sequence[str] = ("5d8f",)
) -> list[Workload]:
    snapshot = Snapshot(
        pods=pods,
        replicasets=tuple(
            ReplicaSetRecord("shop", f"web-{h}", Owner("Deployment", "web"), h) for h in rs
        ),
        controllers=(controller or deployment(replicas=len(pods)),),
    )
    return group_workloads(snapshot)


def scan(
    workloads: list[Workload],
    histories: dict[ImageRef, TagHistory] = MOVED,
    *,
    index_of: dict[Digest, Digest] | None = None,
    nodes: Sequence[NodeRecord] = (),
    builds: dict[Digest, BuildInfo] | None = None,
    now: datetime = NOW,
) -> SkewReport:
    return find_skew(workloads, histories, index_of or {}, now, nodes=nodes, builds=builds)


def only(report: SkewReport, container: str = "web") -> WorkloadFinding:
    [finding] = [f for f in report.findings if f.container == container]
    return finding


def states(finding: WorkloadFinding) -> dict[str, PodState]:
    return {p.name: p.state for p in finding.pods}


# --- the incident: two replicas of one ReplicaSet, one tag, two digests ---------------------


def test_pod_started_before_the_move_runs_the_old_bytes_and_is_stale_with_that_move() -> None:
    report = scan(web(pod("web-1", run(A, T0 + 10 * M)), pod("web-2", run(B, T0 + 40 * M))))
    f = only(report)
    assert f.skewed and report.skewed
    assert states(f) == {"web-1": PodState.STALE, "web-2": PodState.CURRENT}
    assert f.digests == {ImageKey(A): ("web-1",), ImageKey(B): ("web-2",)}
    assert f.tag_digest_now == B
    stale = f.pods[0]
    assert stale.move is not None
    assert (stale.move.change, stale.move.from_digest, stale.move.to_digest) == (
        Change.MOVED,
        A,
        B,
    )
    assert stale.move.window_start == T0 + 20 * M and stale.move.detected_at == T0 + 30 * M
    assert "started before the move" in stale.explanation
    assert A.short in stale.explanation and B.short in stale.explanation
    assert any("silent skew" in r for r in f.reasons)
    assert f"pin the digest: image: {IMAGE}@{B}" in f.remediation
    assert any(
        fix.startswith("kubectl rollout restart deployment/web -n shop") for fix in f.remediation
    )


def test_pod_started_inside_the_move_window_says_either_digest_was_possible() -> None:
    f = only(scan(web(pod("web-1", run(A, T0 + 25 * M)), pod("web-2", run(B, T0 + 40 * M)))))
    assert f.pods[0].state is PodState.STALE
    assert "during the move window" in f.pods[0].explanation


def test_pod_started_after_the_move_on_old_bytes_blames_the_node_cache_and_pull_policy() -> None:
    f = only(scan(web(pod("web-1", run(A, T0 + 45 * M)), pod("web-2", run(B, T0 + 40 * M)))))
    assert f.skewed
    assert "old bytes cached (imagePullPolicy IfNotPresent)" in f.pods[0].explanation


def test_revision_labels_of_both_builds_explain_the_move() -> None:
    builds = {
        A: BuildInfo("application/vnd.oci.image.manifest.v1+json", labels=_rev("1111aaaa")),
        B: BuildInfo("application/vnd.oci.image.manifest.v1+json", labels=_rev("2222bbbb")),
    }
    report = scan(
        web(pod("web-1", run(A, T0 + 10 * M)), pod("web-2", run(B, T0 + 40 * M))), builds=builds
    )
    assert "revision 1111aaaa -> 2222bbbb" in only(report).pods[0].explanation
    [move] = report.to_json()["workloads"][0]["moves"]
    assert (move["from_revision"], move["to_revision"]) == ("1111aaaa", "2222bbbb")


def _rev(value: str) -> dict[str, str]:
    return {"org.opencontainers.image.revision": value}


# --- what is not skew ------------------------------------------------------------------------


def test_two_replicasets_running_different_digests_is_a_rollout_not_skew() -> None:
    workloads = web(
        pod(
            "web-old-1",
            run(A, T0 + 10 * M),
            owner=Owner("ReplicaSet", "web-old"),
            template_hash="old",
        ),
        pod(
            "web-new-1",
            run(B, T0 + 40 * M),
            owner=Owner("ReplicaSet", "web-new"),
            template_hash="new",
        ),
        controller=deployment(replicas=2, updated=1, status_replicas=2),
        rs=("old", "new"),
    )
    f = only(scan(workloads))
    assert not f.skewed
    assert not f.rollout.complete
    # issue 9: within its deadline the rollout is in progress, no longer "in progress or stuck"
    assert any("a rollout (in progress:" in r for r in f.reasons), f.reasons
    assert not f.stuck_rollout


def test_a_stuck_rollout_names_the_progress_deadline() -> None:
    workloads = web(
        pod(
            "web-old-1",
            run(A, T0 + 10 * M),
            owner=Owner("ReplicaSet", "web-old"),
            template_hash="old",
        ),
        pod(
            "web-new-1",
            run(B, T0 + 40 * M),
            owner=Owner("ReplicaSet", "web-new"),
            template_hash="new",
        ),
        controller=deployment(replicas=2, updated=1, progressing="ProgressDeadlineExceeded"),
        rs=("old", "new"),
    )
    f = only(scan(workloads))
    assert not f.skewed
    assert "exceeded its progress deadline" in f.rollout.reason
    assert f.stuck_rollout and f.stuck_reason is not None
    assert "ProgressDeadlineExceeded" in f.stuck_reason


def test_the_same_digest_spelled_by_every_runtime_is_one_digest() -> None:
    hub = "nginx:1.27"
    hub_ref = ImageRef.parse(hub)
    histories = history((A, T0, T0 + 60 * M), ref=hub_ref)
    spellings = [
        f"docker.io/library/nginx@{A}",
        f"docker-pullable://nginx@{A}",
        f"index.docker.io/library/nginx@{A}",
        f"nginx@{A}",
    ]
    pods = [pod(f"web-{i}", run(raw, T0 + 5 * M, image=hub)) for i, raw in enumerate(spellings)]
    controller = deployment(
        replicas=len(pods), specs=[ContainerSpec("web", hub, PullPolicy.IF_NOT_PRESENT)]
    )
    f = only(scan(web(*pods, controller=controller), histories))
    assert not f.skewed
    assert list(f.digests) == [ImageKey(A)]
    assert set(states(f).values()) == {PodState.CURRENT}


def test_a_platform_child_and_its_index_are_one_build() -> None:
    index, child = dg("1"), dg("2")
    histories = history((index, T0, T0 + 60 * M))
    report = scan(
        web(pod("web-1", run(index, T0 + 5 * M)), pod("web-2", run(child, T0 + 5 * M))),
        histories,
        index_of={child: index},
    )
    f = only(report)
    assert not f.skewed
    assert f.digests == {ImageKey(index): ("web-1", "web-2")}
    assert set(states(f).values()) == {PodState.CURRENT}


def test_a_child_shared_by_the_old_and_the_new_index_counts_as_the_current_build() -> None:
    # The amd64 image did not change between two multi-arch pushes: both indexes list it, and
    # the store maps it to the lowest index, which is the old one.
    old, new, shared = dg("1"), dg("9"), dg("5")
    histories = history((old, T0, T0 + 20 * M), (new, T0 + 30 * M, T0 + 60 * M))
    builds = {
        old: BuildInfo(OCI_INDEX, platforms={"linux/amd64": shared, "linux/arm64": dg("6")}),
        new: BuildInfo(OCI_INDEX, platforms={"linux/amd64": shared, "linux/arm64": dg("7")}),
    }
    f = only(
        scan(
            web(pod("web-1", run(shared, T0 + 5 * M)), pod("web-2", run(new, T0 + 40 * M))),
            histories,
            index_of={shared: old},
            builds=builds,
        )
    )
    assert not f.skewed
    assert set(states(f).values()) == {PodState.CURRENT}


def test_workloads_sharing_an_app_label_are_judged_apart() -> None:
    # web (prod) and web-canary share app=web but are different Deployments on purpose.
    snapshot = Snapshot(
        pods=(
            pod("web-1", run(B, T0 + 40 * M), owner=Owner("ReplicaSet", "web-5d8f")),
            pod("canary-1", run(A, T0 + 10 * M), owner=Owner("ReplicaSet", "canary-77aa")),
        ),
        replicasets=(
            ReplicaSetRecord("shop", "web-5d8f", Owner("Deployment", "web"), "5d8f"),
            ReplicaSetRecord("shop", "canary-77aa", Owner("Deployment", "web-canary"), "77aa"),
        ),
        controllers=(deployment("web", replicas=1), deployment("web-canary", replicas=1)),
    )
    report = scan(group_workloads(snapshot))
    assert [(f.key.name, f.skewed) for f in report.findings] == [
        ("web", False),
        ("web-canary", False),
    ]
    assert not report.skewed


# --- what cannot be told ---------------------------------------------------------------------


def test_a_waiting_container_is_unknown_not_a_digest() -> None:
    f = only(
        scan(
            web(
                pod("web-1", run(B, T0 + 40 * M)),
                pod("web-2", run("", None, state="waiting"), ready=False),
            )
        )
    )
    assert not f.skewed
    waiting = f.pods[1]
    assert (waiting.state, waiting.digest) == (PodState.UNKNOWN, None)
    assert "waiting" in waiting.explanation
    assert f.digests == {ImageKey(B): ("web-1",)}


def test_a_local_image_id_is_unknown_and_never_compared_with_registry_digests() -> None:
    f = only(
        scan(
            web(
                pod("web-1", run(B, T0 + 40 * M)),
                pod("web-2", run(f"docker://sha256:{'d' * 64}", T0 + 40 * M)),
            )
        )
    )
    assert not f.skewed
    assert f.pods[1].state is PodState.UNKNOWN
    assert "local image ID" in f.pods[1].explanation


def test_two_local_image_ids_in_one_template_are_skew() -> None:
    f = only(
        scan(
            web(
                pod("web-1", run(f"docker://sha256:{'d' * 64}", T0 + 40 * M)),
                pod("web-2", run("f" * 64, T0 + 40 * M)),
            )
        )
    )
    assert f.skewed


def test_a_tag_never_checked_is_unknown_and_says_how_to_record_it() -> None:
    f = only(scan(web(pod("web-1", run(B, T0 + 40 * M))), {}))
    assert f.pods[0].state is PodState.UNKNOWN
    assert "tagwatch check registry.example.com/shop/web:prod" in f.pods[0].explanation
    assert f.tag_digest_now is None and not f.at_risk


def test_unrecorded_bytes_started_after_the_last_check_are_ahead() -> None:
    f = only(scan(web(pod("web-1", run(X, T0 + 70 * M))), now=T0 + 71 * M))
    assert f.pods[0].state is PodState.AHEAD
    assert "after the last check" in f.pods[0].explanation


def test_unrecorded_bytes_started_before_the_last_check_are_unknown() -> None:
    f = only(scan(web(pod("web-1", run(X, T0 + 50 * M)))))
    assert f.pods[0].state is PodState.UNKNOWN
    assert "never recorded" in f.pods[0].explanation


def test_replicas_on_the_same_bytes_are_each_explained_by_their_own_start() -> None:
    pods = [
        pod("web-1", run(A, T0 + 10 * M)),
        pod("web-2", run(A, T0 + 25 * M)),
        pod("web-3", run(A, T0 + 45 * M)),
        pod("web-4", run(X, T0 + 50 * M)),
        pod("web-5", run(X, T0 + 70 * M)),
        pod("web-6", run(B, T0 + 10 * M)),
        pod("web-7", run(B, T0 + 40 * M)),
    ]
    f = only(scan(web(*pods), now=T0 + 71 * M))
    by_name = {p.name: p for p in f.pods}
    assert "started before the move" in by_name["web-1"].explanation
    assert "during the move window" in by_name["web-2"].explanation
    assert "old bytes cached" in by_name["web-3"].explanation
    assert (by_name["web-4"].state, by_name["web-5"].state) == (PodState.UNKNOWN, PodState.AHEAD)
    assert "moved here by" in by_name["web-6"].explanation
    assert "moved here by" not in by_name["web-7"].explanation


def test_a_pinned_image_is_judged_against_its_pin_not_a_history() -> None:
    pinned = f"{REPO}@{A}"
    specs = [ContainerSpec("web", pinned, PullPolicy.IF_NOT_PRESENT)]
    good = only(
        scan(
            web(
                pod("web-1", run(A, T0, image=pinned)),
                controller=deployment(replicas=1, specs=specs),
            ),
            {},
        )
    )
    assert good.pods[0].state is PodState.CURRENT and not good.skewed
    bad = only(
        scan(
            web(
                pod("web-1", run(B, T0, image=pinned)),
                controller=deployment(replicas=1, specs=specs),
            ),
            {},
        )
    )
    assert bad.pods[0].state is PodState.UNKNOWN
    assert "pins" in bad.pods[0].explanation


def test_tag_refs_lists_each_tag_once_and_leaves_pinned_images_out() -> None:
    workloads = web(
        pod("web-1", run(A, T0), run(A, T0, name="proxy", image="envoyproxy/envoy:v1.30")),
        pod("web-2", run(A, T0), run(A, T0, name="init", image=f"{REPO}@{A}", init=True)),
    )
    assert tag_refs(workloads) == [REF, ImageRef.parse("envoyproxy/envoy:v1.30")]


# --- prediction ------------------------------------------------------------------------------


def _node(name: str, *images: tuple[str, ...], ready: bool = True) -> NodeRecord:
    return NodeRecord(name, tuple(images), ready=ready)


def _uniform_on_old(policy: PullPolicy) -> list[Workload]:
    return web(
        pod("web-1", run(A, T0 + 10 * M, policy=policy), node="node-a"),
        pod("web-2", run(A, T0 + 10 * M, policy=policy), node="node-b"),
        controller=deployment(replicas=2, policy=policy),
    )


CACHED_A = (f"{REPO}@{A}", IMAGE)


def test_always_pull_puts_a_uniform_stale_workload_at_risk_on_every_node() -> None:
    nodes = [_node("node-a", CACHED_A), _node("node-b", CACHED_A)]
    f = only(scan(_uniform_on_old(PullPolicy.ALWAYS), nodes=nodes))
    assert not f.skewed and f.at_risk
    assert f.nodes == {"node-a": ImageKey(B), "node-b": ImageKey(B)}
    assert f.risk is not None and "imagePullPolicy Always" in f.risk
    assert set(states(f).values()) == {PodState.STALE}
    assert f.remediation[0] == "kubectl rollout restart deployment/web -n shop"


def test_if_not_present_runs_cached_old_bytes_and_pulls_the_new_ones_elsewhere() -> None:
    nodes = [_node("node-a", CACHED_A), _node("node-b", (f"{REPO}@{dg('9')}", f"{REPO}:dev"))]
    f = only(scan(_uniform_on_old(PullPolicy.IF_NOT_PRESENT), nodes=nodes))
    assert f.nodes == {"node-a": ImageKey(A), "node-b": ImageKey(B)}
    assert f.at_risk
    assert f.risk is not None and "node-b" in f.risk and "node-a" not in f.risk


def test_if_not_present_with_the_old_bytes_cached_everywhere_is_not_at_risk() -> None:
    nodes = [_node("node-a", CACHED_A), _node("node-b", CACHED_A)]
    f = only(scan(_uniform_on_old(PullPolicy.IF_NOT_PRESENT), nodes=nodes))
    assert f.nodes == {"node-a": ImageKey(A), "node-b": ImageKey(A)}
    assert not f.at_risk and f.risk is None
    # Still stale: a rollout restart under IfNotPresent would keep the old bytes, so say so.
    assert any("imagePullPolicy Always" in fix for fix in f.remediation)


def test_a_capped_image_list_that_omits_the_tag_proves_nothing() -> None:
    filler = tuple((f"{REPO}-{i}@{dg('f')}", f"{REPO}-{i}:x") for i in range(NODE_IMAGES_CAP))
    nodes = [_node("node-a", CACHED_A), _node("node-b", *filler)]
    f = only(scan(_uniform_on_old(PullPolicy.IF_NOT_PRESENT), nodes=nodes))
    assert f.nodes == {"node-a": ImageKey(A), "node-b": None}
    assert not f.at_risk


def test_never_pull_without_the_bytes_cannot_start_and_is_unknown() -> None:
    nodes = [_node("node-a", CACHED_A), _node("node-b")]
    f = only(scan(_uniform_on_old(PullPolicy.NEVER), nodes=nodes))
    assert f.nodes == {"node-a": ImageKey(A), "node-b": None}
    assert not f.at_risk


def test_nodes_that_are_not_ready_are_left_out_of_the_prediction() -> None:
    nodes = [_node("node-a", CACHED_A), _node("node-b", ready=False)]
    f = only(scan(_uniform_on_old(PullPolicy.IF_NOT_PRESENT), nodes=nodes))
    assert f.nodes == {"node-a": ImageKey(A)}
    assert not f.at_risk


def test_a_workload_on_what_the_tag_points_to_now_is_not_at_risk() -> None:
    nodes = [_node("node-a"), _node("node-b")]
    workloads = web(
        pod("web-1", run(B, T0 + 40 * M, policy=PullPolicy.ALWAYS)),
        pod("web-2", run(B, T0 + 40 * M, policy=PullPolicy.ALWAYS)),
        controller=deployment(replicas=2, policy=PullPolicy.ALWAYS),
    )
    f = only(scan(workloads, nodes=nodes))
    assert not f.at_risk and not f.skewed and f.remediation == ()


# --- the checklist ---------------------------------------------------------------------------


def test_a_move_within_a_day_is_a_recent_repush_and_an_older_one_is_not() -> None:
    workloads = web(pod("web-1", run(B, T0 + 40 * M)))
    recent = only(scan(workloads))
    assert recent.last_move_at == T0 + 30 * M and recent.repushed_recently
    old = only(scan(workloads, now=T0 + timedelta(days=3)))
    assert not old.repushed_recently


def test_moves_listed_are_those_since_the_oldest_pod_started() -> None:
    histories = history(
        (A, T0 - 200 * M, T0 - 120 * M),
        (X, T0 - 100 * M, T0 + 20 * M),
        (B, T0 + 30 * M, T0 + 60 * M),
    )
    f = only(scan(web(pod("web-1", run(B, T0 + 40 * M))), histories))
    assert [(m.from_digest, m.to_digest) for m in f.moves] == [(X, B)]
    f = only(scan(web(pod("web-1", run(X, T0 - 50 * M))), histories))
    assert [(m.from_digest, m.to_digest) for m in f.moves] == [(X, B)]
    f = only(scan(web(pod("web-1", run(A, T0 - 150 * M))), histories))
    assert [(m.from_digest, m.to_digest) for m in f.moves] == [(A, X), (X, B)]


def test_each_container_of_a_pod_is_judged_on_its_own_with_init_containers_first() -> None:
    proxy = "registry.example.com/infra/proxy:1.30"
    proxy_ref = ImageRef.parse(proxy)
    histories = {
        **MOVED,
        **history((X, T0 - 60 * M, T0 + 60 * M), ref=proxy_ref),
        **history(
            (A, T0 - 60 * M, T0 + 60 * M),
            ref=ImageRef.parse("registry.example.com/tools/migrate:1"),
        ),
    }
    migrate = "registry.example.com/tools/migrate:1"

    def containers(web_digest: Digest, proxy_id: str) -> tuple[ContainerRun, ...]:
        return (
            run(
                f"registry.example.com/tools/migrate@{A}",
                T0,
                name="migrate",
                image=migrate,
                state="terminated",
                init=True,
            ),
            run(web_digest, T0 + 40 * M),
            run(proxy_id, T0 + 40 * M, name="proxy", image=proxy),
        )

    report = scan(
        web(
            pod("web-1", *containers(B, f"registry.example.com/infra/proxy@{X}")),
            pod("web-2", *containers(B, f"registry.example.com/infra/proxy@{dg('d')}")),
        ),
        histories,
    )
    assert [(f.container, f.init, f.skewed) for f in report.findings] == [
        ("migrate", True, False),
        ("web", False, False),
        ("proxy", False, True),
    ]


def test_statefulset_pods_of_one_revision_on_two_digests_are_skew() -> None:
    sts = ControllerRecord(
        kind="StatefulSet",
        namespace="shop",
        name="db",
        containers=(ContainerSpec("web", IMAGE, PullPolicy.IF_NOT_PRESENT),),
        generation=1,
        observed_generation=1,
        replicas=2,
        updated_replicas=2,
        ready_replicas=2,
        current_revision="db-7c9d",
        update_revision="db-7c9d",
    )
    owner = Owner("StatefulSet", "db")
    snapshot = Snapshot(
        pods=(
            pod("db-0", run(A, T0 + 10 * M), owner=owner, template_hash="db-7c9d"),
            pod("db-1", run(B, T0 + 40 * M), owner=owner, template_hash="db-7c9d"),
        ),
        controllers=(sts,),
    )
    f = only(scan(group_workloads(snapshot)))
    assert f.key.kind == "StatefulSet" and f.skewed
    assert "kubectl rollout restart statefulset/db -n shop" in f.remediation[0]


def test_report_json_has_the_documented_shape() -> None:
    report = scan(web(pod("web-1", run(A, T0 + 10 * M)), pod("web-2", run(B, T0 + 40 * M))))
    data = report.to_json()
    [w] = data["workloads"]
    assert {
        "kind",
        "namespace",
        "name",
        "container",
        "image",
        "skewed",
        "at_risk",
        "digests",
        "pods",
        "tag_digest_now",
        "moves",
    } <= set(w)
    assert w["digests"] == {str(A): ["web-1"], str(B): ["web-2"]}
    assert w["tag_digest_now"] == str(B)
    first = w["pods"][0]
    assert {"name", "node", "digest", "started_at", "state", "explanation"} <= set(first)
    assert (first["state"], first["started_at"]) == ("stale", "2026-05-01T12:10:00Z")
    assert data["skewed"] == 1


# --- verify ----------------------------------------------------------------------------------


def verdict(
    *pods: PodRecord,
    histories: dict[ImageRef, TagHistory] = MOVED,
    controller: ControllerRecord | None = None,
) -> Verdict:
    [workload] = web(*pods, controller=controller)
    return judge_rollout(workload, histories, {}, NOW)


def test_verify_passes_when_every_ready_pod_runs_what_the_tag_points_to_now() -> None:
    v = verdict(pod("web-1", run(B, T0 + 40 * M)), pod("web-2", run(B, T0 + 41 * M)))
    assert v.passed and v.ready_pods == 2
    assert v.containers[0].expected == B


def test_verify_fails_on_a_uniform_workload_left_on_the_old_bytes_and_names_both_fixes() -> None:
    v = verdict(pod("web-1", run(A, T0 + 10 * M)), pod("web-2", run(A, T0 + 10 * M)))
    assert not v.passed
    [c] = v.containers
    assert c.problem is not None and str(A) in c.problem and str(B) in c.problem
    assert c.fix == (
        "kubectl rollout restart deployment/web -n shop with imagePullPolicy Always",
        f"pin the digest: image: {IMAGE}@{B}",
    )


def test_verify_fails_when_ready_pods_run_two_digests() -> None:
    v = verdict(pod("web-1", run(A, T0 + 10 * M)), pod("web-2", run(B, T0 + 40 * M)))
    assert not v.passed
    assert "2 different digests" in (v.containers[0].problem or "")


def test_verify_ignores_pods_that_are_not_ready() -> None:
    v = verdict(pod("web-1", run(B, T0 + 40 * M)), pod("web-2", run(A, T0 + 10 * M), ready=False))
    assert v.passed and v.ready_pods == 1


def test_verify_never_passes_an_incomplete_rollout_or_no_ready_pods() -> None:
    v = verdict(pod("web-1", run(B, T0 + 40 * M)), controller=deployment(replicas=2, updated=1))
    assert not v.passed and not v.rollout.complete
    v = verdict(pod("web-1", run(B, T0 + 40 * M), ready=False))
    assert not v.passed and v.ready_pods == 0


def test_verify_fails_without_a_recorded_digest_and_says_how_to_record_it() -> None:
    v = verdict(pod("web-1", run(B, T0 + 40 * M)), histories={})
    assert not v.passed
    assert "tagwatch check" in (v.containers[0].problem or "")


def test_verify_of_a_pinned_image_compares_with_the_pin() -> None:
    pinned = f"{REPO}@{A}"
    specs = [ContainerSpec("web", pinned, PullPolicy.IF_NOT_PRESENT)]
    ok = verdict(
        pod("web-1", run(A, T0, image=pinned)),
        histories={},
        controller=deployment(replicas=1, specs=specs),
    )
    assert ok.passed and ok.containers[0].expected == A
    bad = verdict(
        pod("web-1", run(B, T0, image=pinned)),
        histories={},
        controller=deployment(replicas=1, specs=specs),
    )
    assert not bad.passed


def test_verify_counts_a_platform_child_of_the_current_index_as_current() -> None:
    index, child = dg("1"), dg("2")
    histories = history((index, T0, T0 + 60 * M))
    [workload] = web(pod("web-1", run(child, T0 + 5 * M)), pod("web-2", run(index, T0 + 5 * M)))
    builds = {index: BuildInfo(OCI_INDEX, platforms={"linux/amd64": child})}
    v = judge_rollout(workload, histories, {child: index}, NOW, builds=builds)
    assert v.passed, v.to_json()


def test_verify_without_node_platforms_compares_builds_only() -> None:
    # An index pushed again with the same platform images: the old index's pods run the
    # target's amd64 image, which only a node's platform can tell; without one, it fails.
    old, new, amd = dg("1"), dg("3"), dg("2")
    histories = history((old, T0, T0 + 20 * M), (new, T0 + 30 * M, T0 + 60 * M))
    builds = {
        old: BuildInfo(OCI_INDEX, platforms={"linux/amd64": amd}),
        new: BuildInfo(OCI_INDEX, platforms={"linux/amd64": amd}),
    }
    [workload] = web(pod("web-1", run(old, T0 + 5 * M), node="amd-1"))
    amd64 = NodeRecord("amd-1", platform=Platform("linux", "amd64"))
    known = judge_rollout(workload, histories, {}, NOW, builds=builds, nodes=[amd64])
    unknown = judge_rollout(workload, histories, {}, NOW, builds=builds)
    assert known.passed, known.to_json()
    [check] = known.containers[0].pods
    assert (check.platform_image, check.expected_image, check.current) == (amd, amd, True)
    assert not unknown.passed
    assert unknown.containers[0].pods[0].current is False


def test_verify_does_not_judge_finished_init_containers() -> None:
    migrate = "registry.example.com/tools/migrate:1"
    v = verdict(
        pod(
            "web-1",
            run(
                f"registry.example.com/tools/migrate@{X}",
                T0,
                name="migrate",
                image=migrate,
                state="terminated",
                init=True,
            ),
            run(B, T0 + 40 * M),
        ),
        controller=deployment(replicas=1),
    )
    assert v.passed, v.to_json()
    assert [c.container for c in v.containers] == ["web"]


@pytest.mark.parametrize("policy", list(PullPolicy))
def test_no_skew_is_reported_for_a_single_pod(policy: PullPolicy) -> None:
    f = only(
        scan(
            web(
                pod("web-1", run(A, T0 + 10 * M, policy=policy)),
                controller=deployment(replicas=1, policy=policy),
            )
        )
    )
    assert not f.skewed
