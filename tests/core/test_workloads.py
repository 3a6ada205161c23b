"""Pure workload records: imageID spellings, pull-policy defaults, rollouts, node caches, owners."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.moves import Sighting, TagHistory
from tagwatch.core.references import ImageRef
from tagwatch.core.rollouts import rollout_status
from tagwatch.core.skew import PodState, find_skew
from tagwatch.core.workloads import (
    NODE_IMAGES_CAP,
    ContainerRun,
    ControllerRecord,
    ImageKey,
    ImageKind,
    NodeRecord,
    Owner,
    PodRecord,
    PullPolicy,
    ReplicaSetRecord,
    Snapshot,
    default_pull_policy,
    group_workloads,
    node_tag_index,
    normalise_image_id,
)

HEX = "c" * 64
D = Digest("sha256", HEX)
T0 = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        f"docker.io/library/nginx@sha256:{HEX}",
        f"docker-pullable://nginx@sha256:{HEX}",
        f"index.docker.io/library/nginx@sha256:{HEX}",
        f"registry-1.docker.io/library/nginx@sha256:{HEX}",
        f"nginx@sha256:{HEX}",
        f"docker.io/nginx@sha256:{HEX}",
    ],
)
def test_every_spelling_of_a_hub_repo_digest_is_one_manifest_digest(raw: str) -> None:
    running = normalise_image_id(raw)
    assert running is not None
    assert (running.digest, running.kind, running.repository) == (
        D,
        ImageKind.MANIFEST,
        "docker.io/library/nginx",
    )
    assert str(running.key) == f"sha256:{HEX}"


@pytest.mark.parametrize("raw", [f"docker://sha256:{HEX}", f"sha256:{HEX}", HEX])
def test_config_ids_are_local_image_ids_not_registry_digests(raw: str) -> None:
    running = normalise_image_id(raw)
    assert running is not None
    assert (running.digest, running.kind) == (D, ImageKind.CONFIG)
    assert str(running.key) == f"image-id:sha256:{HEX}"


@pytest.mark.parametrize("raw", ["", None, "nginx@sha256:short", "garbage"])
def test_empty_or_unreadable_image_ids_are_unknown(raw: str | None) -> None:
    assert normalise_image_id(raw) is None


def test_private_registry_image_id_keeps_its_host() -> None:
    running = normalise_image_id(f"ghcr.io/org/app@sha256:{HEX}")
    assert running is not None and running.repository == "ghcr.io/org/app"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", PullPolicy.ALWAYS),
        ("nginx:latest", PullPolicy.ALWAYS),
        ("nginx:1.27", PullPolicy.IF_NOT_PRESENT),
        (f"nginx@sha256:{HEX}", PullPolicy.IF_NOT_PRESENT),
        (f"nginx:latest@sha256:{HEX}", PullPolicy.IF_NOT_PRESENT),
    ],
)
def test_default_pull_policy_follows_kubernetes(image: str, policy: PullPolicy) -> None:
    assert default_pull_policy(ImageRef.parse(image)) is policy


def _deploy(**kw: object) -> ControllerRecord:
    base: dict[str, object] = {
        "kind": "Deployment",
        "namespace": "ns",
        "name": "web",
        "generation": 2,
        "observed_generation": 2,
        "replicas": 3,
        "updated_replicas": 3,
        "available_replicas": 3,
        "status_replicas": 3,
    }
    base.update(kw)
    return ControllerRecord(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "complete", "words"),
    [
        ({}, True, "complete"),
        ({"observed_generation": 1}, False, "observe"),
        ({"progressing_reason": "ProgressDeadlineExceeded"}, False, "deadline"),
        ({"updated_replicas": 2}, False, "2 of 3 new replicas"),
        ({"status_replicas": 4}, False, "pending termination"),
        ({"available_replicas": 2}, False, "2 of 3 updated replicas are available"),
    ],
)
def test_rollout_complete_is_kubectls_rule(
    changes: dict[str, object], complete: bool, words: str
) -> None:
    status = rollout_status(_deploy(**changes))
    assert status.complete is complete
    assert words in status.reason


def test_statefulset_and_daemonset_rollouts() -> None:
    sts = ControllerRecord(
        "StatefulSet",
        "ns",
        "db",
        generation=1,
        observed_generation=1,
        replicas=2,
        ready_replicas=2,
        updated_replicas=2,
        current_revision="a",
        update_revision="b",
    )
    assert rollout_status(sts).complete is False
    assert rollout_status(
        ControllerRecord(
            "StatefulSet",
            "ns",
            "db",
            generation=1,
            observed_generation=1,
            replicas=2,
            ready_replicas=2,
            updated_replicas=2,
            current_revision="b",
            update_revision="b",
        )
    ).complete
    ds = ControllerRecord(
        "DaemonSet",
        "ns",
        "agent",
        generation=1,
        observed_generation=1,
        replicas=3,
        updated_replicas=3,
        available_replicas=2,
    )
    assert rollout_status(ds).complete is False
    assert rollout_status(None).complete


def test_node_tag_index_maps_tags_to_the_digests_listed_with_them() -> None:
    node = NodeRecord(
        "n1",
        images=(
            (f"docker.io/library/nginx@sha256:{HEX}", "docker.io/library/nginx:1.27"),
            ("registry.example/app:v1",),
        ),
    )
    index = node_tag_index(node)
    assert index["docker.io/library/nginx:1.27"] == frozenset({D})
    assert index["registry.example/app:v1"] == frozenset()
    assert not node.capped
    assert NodeRecord("n2", images=tuple((f"x/{i}:1",) for i in range(NODE_IMAGES_CAP))).capped


def _pod(
    name: str, owner: Owner | None, image_id: str, *, ns: str = "ns", hash_: str | None = None
) -> PodRecord:
    run = ContainerRun(
        "app",
        "registry.example/app:v1",
        PullPolicy.IF_NOT_PRESENT,
        normalise_image_id(image_id),
        started_at=T0 + timedelta(minutes=5),
        ready=True,
    )
    return PodRecord(ns, name, "n1", owner, (run,), template_hash=hash_, ready=True)


def test_owner_chains_group_pods_and_labels_do_not() -> None:
    snap = Snapshot(
        pods=(
            _pod("web-1", Owner("ReplicaSet", "web-a"), f"sha256:{HEX}", hash_="a"),
            _pod("web-2", Owner("ReplicaSet", "web-b"), f"sha256:{HEX}", hash_="b"),
            _pod("orphan-rs-1", Owner("ReplicaSet", "lonely"), f"sha256:{HEX}"),
            _pod("job-1", Owner("Job", "backup-1"), f"sha256:{HEX}"),
            _pod("job-2", Owner("Job", "adhoc"), f"sha256:{HEX}"),
            _pod("bare", None, f"sha256:{HEX}"),
        ),
        replicasets=(
            ReplicaSetRecord("ns", "web-a", Owner("Deployment", "web"), "a"),
            ReplicaSetRecord("ns", "web-b", Owner("Deployment", "web"), "b"),
            ReplicaSetRecord("ns", "lonely", None),
        ),
        controllers=(
            ControllerRecord("Job", "ns", "backup-1", owner=Owner("CronJob", "backup")),
            ControllerRecord("Job", "ns", "adhoc"),
        ),
    )
    groups = {(w.key.kind, w.key.name): dict(w.groups) for w in group_workloads(snap)}
    assert groups == {
        ("CronJob", "backup"): {"job-1": "backup-1"},
        ("Deployment", "web"): {"web-1": "web-a", "web-2": "web-b"},
        ("Job", "adhoc"): {"job-2": "adhoc"},
        ("Pod", "bare"): {"bare": ""},
        ("ReplicaSet", "lonely"): {"orphan-rs-1": "lonely"},
    }


def test_two_local_image_ids_in_one_replicaset_are_skew_but_not_history_states() -> None:
    owner = Owner("ReplicaSet", "web-a")
    snap = Snapshot(
        pods=(
            _pod("web-1", owner, f"docker://sha256:{'1' * 64}", hash_="a"),
            _pod("web-2", owner, f"docker://sha256:{'2' * 64}", hash_="a"),
        ),
        replicasets=(ReplicaSetRecord("ns", "web-a", Owner("Deployment", "web"), "a"),),
    )
    ref = ImageRef.parse("registry.example/app:v1")
    history = TagHistory(ref, (Sighting(D, T0, T0 + timedelta(hours=1)),))
    [finding] = find_skew(
        group_workloads(snap), {ref: history}, {}, T0 + timedelta(hours=1)
    ).findings
    assert finding.skewed is True
    assert {p.state for p in finding.pods} == {PodState.UNKNOWN}
    assert all("local image ID" in p.explanation for p in finding.pods)


def test_a_local_id_next_to_a_registry_digest_is_not_called_skew() -> None:
    owner = Owner("ReplicaSet", "web-a")
    snap = Snapshot(
        pods=(
            _pod("web-1", owner, f"docker://sha256:{'1' * 64}", hash_="a"),
            _pod("web-2", owner, f"registry.example/app@sha256:{HEX}", hash_="a"),
        ),
    )
    ref = ImageRef.parse("registry.example/app:v1")
    history = TagHistory(ref, (Sighting(D, T0, T0 + timedelta(hours=1)),))
    [finding] = find_skew(
        group_workloads(snap), {ref: history}, {}, T0 + timedelta(hours=1)
    ).findings
    assert finding.skewed is False
    assert [p.state for p in finding.pods] == [PodState.UNKNOWN, PodState.CURRENT]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (PullPolicy.ALWAYS, {"cached": "new", "empty": "new", "capped": "new"}),
        (PullPolicy.IF_NOT_PRESENT, {"cached": "old", "empty": "new", "capped": None}),
        (PullPolicy.NEVER, {"cached": "old", "empty": None, "capped": None}),
    ],
)
def test_prediction_per_pull_policy_and_node_cache(
    policy: PullPolicy, expected: dict[str, str | None]
) -> None:
    old, new = Digest("sha256", "1" * 64), Digest("sha256", "2" * 64)
    image = "registry.example/app:v1"
    run = ContainerRun(
        image=image,
        name="app",
        pull_policy=policy,
        running=normalise_image_id(f"registry.example/app@{old}"),
        started_at=T0 + timedelta(minutes=5),
        ready=True,
    )
    pod = PodRecord("ns", "app-1", "cached", None, (run,), ready=True)
    nodes = (
        NodeRecord("cached", images=((f"registry.example/app@{old}", image),)),
        NodeRecord("empty", images=()),
        NodeRecord("capped", images=tuple((f"x/{i}:1",) for i in range(NODE_IMAGES_CAP))),
    )
    ref = ImageRef.parse(image)
    history = TagHistory(
        ref,
        (
            Sighting(old, T0, T0 + timedelta(hours=1)),
            Sighting(new, T0 + timedelta(hours=2), T0 + timedelta(hours=3)),
        ),
    )
    [finding] = find_skew(
        group_workloads(Snapshot(pods=(pod,))),
        {ref: history},
        {},
        T0 + timedelta(hours=3),
        nodes=nodes,
    ).findings
    names = {"old": ImageKey(old), "new": ImageKey(new), None: None}
    assert dict(finding.nodes) == {node: names[want] for node, want in expected.items()}
    assert finding.at_risk is (policy is not PullPolicy.NEVER)
