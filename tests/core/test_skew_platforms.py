"""Skew decided platform for platform: what each node runs, not which index digest it reports."""

from __future__ import annotations

from datetime import timedelta

from tagwatch.core.builds import platform_child, same_images
from tagwatch.core.digests import OCI_INDEX, Platform
from tagwatch.core.moves import BuildInfo
from tagwatch.core.skew import PodState
from tagwatch.core.workloads import NodeRecord, PullPolicy
from tests.core.test_skew import NOW, T0, dg, history, only, pod, run, scan, states, web

M = timedelta(minutes=1)
AMD1, ARM1, AMD2, ARM2 = dg("1"), dg("2"), dg("3"), dg("4")
OLD, SAME, NEW = dg("a"), dg("b"), dg("c")
BUILDS = {
    OLD: BuildInfo(OCI_INDEX, platforms={"linux/amd64": AMD1, "linux/arm64/v8": ARM1}),
    # pushed again: the same platform images, a new provenance attestation, a new index digest
    SAME: BuildInfo(OCI_INDEX, platforms={"linux/amd64": AMD1, "linux/arm64/v8": ARM1}),
    NEW: BuildInfo(OCI_INDEX, platforms={"linux/amd64": AMD2, "linux/arm64/v8": ARM2}),
}
NODES = (
    NodeRecord("amd-1", platform=Platform("linux", "amd64")),
    NodeRecord("amd-2", platform=Platform("linux", "amd64")),
    NodeRecord("arm-1", platform=Platform("linux", "arm64")),
)
REPUSHED = history((OLD, T0, T0 + 20 * M), (SAME, T0 + 30 * M, T0 + 60 * M))


def test_an_index_pushed_again_with_the_same_platform_images_is_not_skew() -> None:
    pods = (
        pod("web-1", run(OLD, T0 + 5 * M), node="amd-1"),
        pod("web-2", run(SAME, T0 + 40 * M), node="arm-1"),
        pod("web-3", run(SAME, T0 + 40 * M), node="amd-2"),
    )
    f = only(scan(web(*pods), REPUSHED, builds=BUILDS, nodes=NODES))
    assert not f.skewed and not f.at_risk
    assert set(states(f).values()) == {PodState.CURRENT}
    assert "only in attestations or annotations" in f.pods[0].explanation
    assert any("same platform images" in r for r in f.reasons)
    assert [p.platform_image for p in f.pods] == [AMD1, ARM1, AMD1]
    assert f.pods[1].to_json({})["platform"] == "linux/arm64"
    assert f.remediation == ()


def test_one_index_on_amd64_and_arm64_nodes_is_not_skew() -> None:
    pods = (
        pod("web-1", run(OLD, T0 + 5 * M), node="amd-1"),
        pod("web-2", run(OLD, T0 + 5 * M), node="arm-1"),
    )
    histories = history((OLD, T0, NOW))
    f = only(scan(web(*pods), histories, builds=BUILDS, nodes=NODES))
    assert not f.skewed
    assert [p.platform_image for p in f.pods] == [AMD1, ARM1]


def test_two_amd64_nodes_running_different_amd64_children_are_skew() -> None:
    pods = (
        pod("web-1", run(AMD1, T0 + 5 * M), node="amd-1"),
        pod("web-2", run(AMD2, T0 + 5 * M), node="amd-2"),
    )
    histories = history((OLD, T0, T0 + 20 * M), (NEW, T0 + 30 * M, NOW))
    f = only(scan(web(*pods), histories, builds=BUILDS, nodes=NODES))
    assert f.skewed
    assert "silent skew" in f.reasons[0]


def test_amd64_and_arm64_pods_of_different_builds_are_skew() -> None:
    # Each platform has one image, but no recorded build lists both.
    pods = (
        pod("web-1", run(OLD, T0 + 5 * M), node="amd-1"),
        pod("web-2", run(NEW, T0 + 40 * M), node="arm-1"),
    )
    histories = history((OLD, T0, T0 + 20 * M), (NEW, T0 + 30 * M, NOW))
    f = only(scan(web(*pods), histories, builds=BUILDS, nodes=NODES))
    assert f.skewed
    assert states(f) == {"web-1": PodState.STALE, "web-2": PodState.CURRENT}


def test_a_tag_moved_only_in_attestations_puts_no_pod_at_risk() -> None:
    pods = (
        pod("web-1", run(OLD, T0 + 5 * M, policy=PullPolicy.ALWAYS), node="amd-1"),
        pod("web-2", run(OLD, T0 + 5 * M, policy=PullPolicy.ALWAYS), node="arm-1"),
    )
    f = only(scan(web(*pods), REPUSHED, builds=BUILDS, nodes=NODES))
    assert not f.at_risk and f.risk is None
    moved = history((OLD, T0, T0 + 20 * M), (NEW, T0 + 30 * M, NOW))
    g = only(scan(web(*pods), moved, builds=BUILDS, nodes=NODES))
    assert g.at_risk and g.risk is not None and NEW.short in g.risk


def test_without_node_platforms_indexes_are_compared_by_the_images_they_list() -> None:
    same = (
        pod("web-1", run(OLD, T0 + 5 * M), node="unknown-node"),
        pod("web-2", run(SAME, T0 + 40 * M), node="unknown-node"),
    )
    f = only(scan(web(*same), REPUSHED, builds=BUILDS, nodes=()))
    assert not f.skewed
    assert [p.platform_image for p in f.pods] == [None, None]
    other = (same[0], pod("web-2", run(NEW, T0 + 40 * M), node="unknown-node"))
    moved = history((OLD, T0, T0 + 20 * M), (NEW, T0 + 30 * M, NOW))
    assert only(scan(web(*other), moved, builds=BUILDS, nodes=())).skewed


def test_node_platforms_match_index_entries_with_default_variants() -> None:
    entries = {
        "linux/amd64": dg("1"),
        "linux/arm64/v8": dg("2"),
        "linux/arm/v6": dg("3"),
        "linux/arm/v7": dg("4"),
    }
    assert platform_child(entries, Platform("linux", "arm64")) == dg("2")
    assert platform_child(entries, Platform("linux", "arm")) == dg("4")  # v7 is arm's default
    assert platform_child(entries, Platform("linux", "arm", "v6")) == dg("3")
    assert platform_child({"linux/arm64": dg("5")}, Platform("linux", "arm64", "v8")) == dg("5")
    assert platform_child(entries, Platform("linux", "s390x")) is None


def test_same_images_needs_two_recorded_indexes_with_equal_platforms() -> None:
    assert same_images(BUILDS[OLD], BUILDS[SAME])
    assert not same_images(BUILDS[OLD], BUILDS[NEW])
    single = BuildInfo("application/vnd.oci.image.manifest.v1+json")
    assert not same_images(single, single)
    assert not same_images(None, BUILDS[OLD])
