"""`tagwatch drift`: images built on a base digest that their base tag has moved away from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tagwatch.core.digests import Digest
from tagwatch.core.drift import DriftState, base_drift
from tagwatch.core.moves import BuildInfo, Sighting, TagHistory
from tagwatch.core.references import ImageRef
from tests.pin.conftest import Run, as_json
from tests.support.registry import TestRegistry

BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"


def _app(registry: TestRegistry, repo: str, base: str, base_digest: Digest, tag: str) -> str:
    registry.push_image(
        repo,
        tag,
        content=f"app on {base_digest}",
        labels={BASE_NAME: base, BASE_DIGEST: str(base_digest)},
    )
    return f"{registry.host}/{repo}:{tag}"


def test_app_on_a_rebuilt_base_is_behind_with_when_and_how_far(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    base_repo = f"{repo_name}-base"
    base = f"{registry.host}/{base_repo}:3.12"
    first = registry.push_image(base_repo, "3.12", content="base v1")
    app = _app(registry, repo_name, base, first, "prod")

    [current] = as_json(run("drift", app, "-o", "json"))
    assert (current["state"], current["base"], current["base_now"]) == ("current", base, str(first))

    second = registry.push_image(base_repo, "3.12", content="base v2")
    result = run("drift", app, "-o", "json", code=1)
    [behind] = as_json(result)
    assert behind["state"] == "behind"
    assert (behind["base_digest"], behind["base_now"]) == (str(first), str(second))
    assert (behind["moves_behind"], behind["moves_behind_exact"]) == (1, True)
    assert behind["base_moved_at"] is not None
    assert behind["base_window_start"] <= behind["base_moved_at"]

    # The base history has the move, with when it was detected.
    events = as_json(run("history", base, "-o", "json"))
    assert [e["change"] for e in events] == ["first_seen", "moved"]
    assert behind["base_moved_at"] == events[1]["detected_at"]

    registry.push_image(base_repo, "3.12", content="base v3")
    [further] = as_json(run("drift", app, "-o", "json", code=1))
    assert further["moves_behind"] == 2
    assert further["base_moved_at"] == behind["base_moved_at"]  # the first move away from it

    table = run("drift", app, code=1)
    assert "behind" in table.stdout and first.short in table.stdout


def test_offline_drift_uses_only_the_recorded_history(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    base_repo = f"{repo_name}-base"
    base = f"{registry.host}/{base_repo}:1"
    first = registry.push_image(base_repo, "1", content="base v1")
    app = _app(registry, repo_name, base, first, "prod")
    run("watch", "add", app)
    run("drift")  # every watched image, checked now: current
    registry.push_image(base_repo, "1", content="base v2")

    [offline] = as_json(run("drift", "--offline", "-o", "json"))
    assert offline["state"] == "current"  # the move is not recorded yet
    [online] = as_json(run("drift", "-o", "json", code=1))
    assert online["state"] == "behind"
    [offline] = as_json(run("drift", "--offline", "-o", "json", code=1))
    assert offline["state"] == "behind"


def test_a_base_never_seen_under_its_tag_is_behind_by_at_least_one(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    base_repo = f"{repo_name}-base"
    base = f"{registry.host}/{base_repo}:1"
    first = registry.push_image(base_repo, "1", content="base v1")
    app = _app(registry, repo_name, base, first, "prod")
    registry.push_image(base_repo, "1", content="base v2")  # before tagwatch ever looked

    [behind] = as_json(run("drift", app, "-o", "json", code=1))
    assert behind["state"] == "behind"
    assert (behind["moves_behind"], behind["moves_behind_exact"]) == (1, False)
    assert behind["base_moved_at"] is None
    assert "1+" in run("drift", app, code=1).stdout


def test_a_multi_arch_image_is_judged_by_its_platform_images_labels(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    base_repo = f"{repo_name}-base"
    base = f"{registry.host}/{base_repo}:1"
    first = registry.push_index(base_repo, "1", {"linux/amd64": "b1", "linux/arm64": "b1a"})
    amd64_base = registry.child_digests(base_repo, first)["linux/amd64"]
    registry.push_index(
        repo_name,
        "prod",
        {"linux/amd64": "app", "linux/arm64": "app-arm"},
        labels={BASE_NAME: base, BASE_DIGEST: str(amd64_base)},
    )
    app = f"{registry.host}/{repo_name}:prod"
    [current] = as_json(run("drift", app, "-o", "json"))
    assert (current["state"], current["base_digest"]) == ("current", str(amd64_base))
    registry.push_index(base_repo, "1", {"linux/amd64": "b2", "linux/arm64": "b2a"})
    [behind] = as_json(run("drift", app, "-o", "json", code=1))
    assert (behind["state"], behind["moves_behind"]) == ("behind", 1)


def test_images_without_base_labels_are_unknown_not_failures(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    registry.push_image(repo_name, "plain", content="no labels")
    [row] = as_json(run("drift", f"{registry.host}/{repo_name}:plain", "-o", "json"))
    assert row["state"] == "unknown"
    assert "labels" in row["reason"]


def test_offline_drift_of_an_image_never_checked_is_an_error(run: Run) -> None:
    # Exit 3 (issue 12): not judged is "could not find out", not a finding.
    result = run("drift", "127.0.0.1:1/never/seen:1", "--offline", "-o", "json", code=3)
    [row] = as_json(result)
    assert row["state"] == "error"
    assert "never checked" in row["error"]


def test_base_labelled_with_a_platform_child_of_the_current_index_is_current() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    index, child, other = (Digest("sha256", c * 64) for c in "abc")
    base = ImageRef.parse("python:3.12")
    history = TagHistory(base, (Sighting(index, t0, t0 + timedelta(days=1)),))
    builds = {index: BuildInfo("application/vnd.oci.image.index.v1+json", {"linux/amd64": child})}
    build = BuildInfo(
        "application/vnd.oci.image.manifest.v1+json",
        labels={BASE_NAME: "docker.io/library/python:3.12", BASE_DIGEST: str(child)},
    )
    app = ImageRef.parse("org/app:1")
    assert base_drift(app, other, build, history, builds).state is DriftState.CURRENT

    moved = TagHistory(
        base, (*history.sightings, Sighting(other, t0 + timedelta(days=2), t0 + timedelta(days=3)))
    )
    drift = base_drift(app, other, build, moved, builds)
    assert (drift.state, drift.moves_behind, drift.moved_at) == (
        DriftState.BEHIND,
        1,
        t0 + timedelta(days=2),
    )
    assert drift.window_start == t0 + timedelta(days=1)


def test_base_named_by_digest_only_cannot_drift() -> None:
    digest = Digest("sha256", "d" * 64)
    build = BuildInfo("m", labels={BASE_NAME: f"python@{digest}", BASE_DIGEST: str(digest)})
    drift = base_drift(ImageRef.parse("org/app:1"), None, build, None, {})
    assert drift.state is DriftState.UNKNOWN
    assert "digest only" in drift.reason
