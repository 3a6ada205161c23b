"""`tagwatch drift` finds the base of any image: annotations, BuildKit provenance, layers.

Images are pushed to the test registry as builders push them: an app built on a base
starts with the base's layers; BuildKit attaches an attestation manifest per platform
image whose in-toto layer is a SLSA provenance statement naming the base among its inputs.
"""

from __future__ import annotations

from typing import Any

from tagwatch.core.digests import Digest
from tests.pin.conftest import Run, as_json
from tests.support.registry import TestRegistry

V02 = "https://slsa.dev/provenance/v0.2"
V1 = "https://slsa.dev/provenance/v1"
FRONTEND = "pkg:docker/docker/dockerfile@1.7?platform=linux%2Famd64"


def _purl(registry: TestRegistry, repo: str, tag: str) -> str:
    return f"pkg:docker/{registry.host}/{repo}@{tag}?platform=linux%2Famd64"


def _material(uri: str, digest: Digest) -> dict[str, Any]:
    return {"uri": uri, "digest": {"sha256": digest.encoded}}


def _v02(*materials: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A BuildKit `mode=min` SLSA v0.2 predicate (its shape, with our materials)."""
    return V02, {
        "builder": {"id": ""},
        "buildType": "https://mobyproject.org/buildkit@v1",
        "materials": list(materials),
        "invocation": {
            "configSource": {"entryPoint": "Dockerfile"},
            "parameters": {"frontend": "gateway.v0", "args": {"source": "docker/dockerfile:1.7"}},
            "environment": {"platform": "linux/amd64"},
        },
        "metadata": {"completeness": {"parameters": True, "materials": False}},
    }


def _v1(*dependencies: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A BuildKit SLSA v1 predicate: the inputs are the build definition's resolved deps."""
    return V1, {
        "buildDefinition": {
            "buildType": "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md",
            "externalParameters": {
                "configSource": {"path": "Dockerfile"},
                "request": {"frontend": "gateway.v0", "args": {"source": "docker/dockerfile:1.7"}},
            },
            "resolvedDependencies": list(dependencies),
        },
        "runDetails": {"builder": {"id": ""}, "metadata": {}},
    }


def test_an_app_without_annotations_is_found_by_its_layers_and_falls_behind(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    base_repo, os_repo = f"{repo_name}-base", f"{repo_name}-os"
    base = f"{registry.host}/{base_repo}:1"
    registry.push_image(os_repo, "12", content=["os"])  # the base's own base: shorter
    first = registry.push_image(base_repo, "1", content=["os", "base v1"])
    run("watch", "add", f"{registry.host}/{os_repo}:12")
    run("watch", "add", base)
    registry.push_image(repo_name, "prod", content=["os", "base v1", "app"])
    app = f"{registry.host}/{repo_name}:prod"

    [row] = as_json(run("drift", app, "-o", "json"))
    assert (row["state"], row["found_by"], row["base"]) == ("current", "layers", base)
    assert row["base_digest"] == str(first)
    assert row["rebuild"] is False and row["base_current_from"] is not None

    registry.push_image(base_repo, "1", content=["os", "base v2"])
    run("drift", app, code=1)  # tagwatch sees each move
    registry.push_image(base_repo, "1", content=["os", "base v3"])
    [behind] = as_json(run("drift", app, "-o", "json", code=1))
    assert (behind["state"], behind["found_by"], behind["rebuild"]) == ("behind", "layers", True)
    assert (behind["moves_behind"], behind["moves_behind_exact"]) == (2, True)
    assert behind["base_moved_at"] < behind["base_last_moved_at"]
    assert behind["base_current_from"] <= behind["base_window_start"] <= behind["base_moved_at"]

    table = run("drift", app, code=1).stdout
    assert "layers" in table and "yes" in table and first.short in table


def test_layer_lists_are_recorded_once_and_judged_offline(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    base_repo = f"{repo_name}-base"
    base = f"{registry.host}/{base_repo}:1"
    first = registry.push_image(base_repo, "1", content=["os", "base v1"])
    run("watch", "add", base)
    registry.push_image(repo_name, "prod", content=["os", "base v1", "app"])
    app = f"{registry.host}/{repo_name}:prod"
    run("watch", "add", app)
    assert as_json(run("drift", app, "-o", "json"))[0]["found_by"] == "layers"

    registry.push_image(base_repo, "1", content=["os", "base v2"])
    registry.delete(base_repo, first)  # its layer list can no longer be read: it was recorded
    [online] = as_json(run("drift", app, "-o", "json", code=1))
    assert (online["state"], online["found_by"]) == ("behind", "layers")
    [offline] = as_json(run("drift", app, "--offline", "-o", "json", code=1))
    assert (offline["state"], offline["found_by"], offline["moves_behind"]) == (
        "behind",
        "layers",
        1,
    )


def test_a_base_sharing_only_leading_layers_is_not_the_base(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    sibling_repo = f"{repo_name}-sibling"
    registry.push_image(sibling_repo, "1", content=["os", "sibling"])
    run("watch", "add", f"{registry.host}/{sibling_repo}:1")
    registry.push_image(repo_name, "prod", content=["os", "base v1", "app"])
    [row] = as_json(run("drift", f"{registry.host}/{repo_name}:prod", "-o", "json"))
    assert (row["state"], row["found_by"]) == ("unknown", None)
    assert "prefix" in row["reason"]


def test_buildkit_provenance_v02_names_the_base_and_its_digest(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    base_repo = f"{repo_name}-base"
    base = f"{registry.host}/{base_repo}:3.19"
    first = registry.push_index(base_repo, "3.19", {"linux/amd64": "base v1"}, attestation=False)
    provenance = _v02(
        _material(FRONTEND, Digest.of(b"frontend")),
        _material(_purl(registry, base_repo, "3.19"), first),
        {"uri": "https://github.com/org/app.git#main", "digest": {"sha1": "e" * 40}},
    )
    registry.push_index(repo_name, "prod", {"linux/amd64": "app"}, provenance=provenance)
    app = f"{registry.host}/{repo_name}:prod"

    [row] = as_json(run("drift", app, "-o", "json"))
    assert (row["state"], row["found_by"], row["base"]) == ("current", "provenance", base)
    assert row["base_digest"] == str(first)

    registry.push_index(base_repo, "3.19", {"linux/amd64": "base v2"}, attestation=False)
    [behind] = as_json(run("drift", app, "-o", "json", code=1))
    assert (behind["state"], behind["found_by"], behind["moves_behind"]) == (
        "behind",
        "provenance",
        1,
    )
    assert behind["rebuild"] is True


def test_buildkit_provenance_v1_names_the_base(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    base_repo = f"{repo_name}-base"
    first = registry.push_index(base_repo, "1", {"linux/amd64": "base v1"}, attestation=False)
    provenance = _v1(
        _material(FRONTEND, Digest.of(b"frontend")),
        _material(_purl(registry, base_repo, "1"), first),
    )
    registry.push_index(repo_name, "prod", {"linux/amd64": "app"}, provenance=provenance)
    app = f"{registry.host}/{repo_name}:prod"
    [row] = as_json(run("drift", app, "-o", "json"))
    assert (row["state"], row["found_by"]) == ("current", "provenance")
    registry.push_index(base_repo, "1", {"linux/amd64": "base v2"}, attestation=False)
    [behind] = as_json(run("drift", app, "-o", "json", code=1))
    assert (behind["state"], behind["moves_behind"]) == ("behind", 1)


def test_a_multi_stage_build_without_a_graph_takes_the_stage_its_layers_start_with(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    build_repo, runtime_repo = f"{repo_name}-golang", f"{repo_name}-alpine"
    golang = registry.push_index(
        build_repo, "1.22", {"linux/amd64": ["os", "go"]}, attestation=False
    )
    alpine = registry.push_index(runtime_repo, "3", {"linux/amd64": ["musl"]}, attestation=False)
    provenance = _v02(
        _material(_purl(registry, build_repo, "1.22"), golang),
        _material(_purl(registry, runtime_repo, "3"), alpine),
    )
    registry.push_index(
        repo_name, "prod", {"linux/amd64": ["musl", "binary"]}, provenance=provenance
    )
    [row] = as_json(run("drift", f"{registry.host}/{repo_name}:prod", "-o", "json"))
    assert (row["found_by"], row["base"]) == ("provenance", f"{registry.host}/{runtime_repo}:3")


def test_annotations_come_first(registry: TestRegistry, repo_name: str, run: Run) -> None:
    base_repo = f"{repo_name}-base"
    base = f"{registry.host}/{base_repo}:1"
    first = registry.push_image(base_repo, "1", content=["os", "base v1"])
    run("watch", "add", base)
    registry.push_image(
        repo_name,
        "prod",
        content=["os", "base v1", "app"],
        labels={
            "org.opencontainers.image.base.name": base,
            "org.opencontainers.image.base.digest": str(first),
        },
    )
    [row] = as_json(run("drift", f"{registry.host}/{repo_name}:prod", "-o", "json"))
    assert (row["state"], row["found_by"]) == ("current", "annotation")


def test_provenance_and_layer_findings_are_kept_for_offline_drift_and_the_report(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    base_repo, os_repo = f"{repo_name}-base", f"{repo_name}-os"
    first = registry.push_index(base_repo, "1", {"linux/amd64": "base v1"}, attestation=False)
    provenance = _v02(_material(_purl(registry, base_repo, "1"), first))
    registry.push_index(repo_name, "buildkit", {"linux/amd64": "app"}, provenance=provenance)
    os_tag = f"{registry.host}/{os_repo}:12"
    registry.push_image(os_repo, "12", content=["os v1"])
    registry.push_image(repo_name, "kaniko", content=["os v1", "app"])
    buildkit, kaniko = (f"{registry.host}/{repo_name}:{t}" for t in ("buildkit", "kaniko"))
    run("watch", "add", os_tag, buildkit, kaniko)
    run("drift", buildkit, kaniko)  # current: both found, and recorded
    registry.push_index(base_repo, "1", {"linux/amd64": "base v2"}, attestation=False)
    registry.push_image(os_repo, "12", content=["os v2"])
    run("check", f"{registry.host}/{base_repo}:1", os_tag)  # tagwatch records the moves

    offline = as_json(run("drift", buildkit, kaniko, "--offline", "-o", "json", code=1))
    assert [(r["ref"], r["state"], r["found_by"]) for r in offline] == [
        (buildkit, "behind", "provenance"),
        (kaniko, "behind", "layers"),
    ]
    review = as_json(run("report", "--since", "1d", "-o", "json", code=0))
    found = {(d["ref"], d["found_by"], d["moves_behind"]) for d in review["base_drift"]}
    assert found == {(buildkit, "provenance", 1), (kaniko, "layers", 1)}


def test_a_multi_arch_app_matches_its_platform_image_against_the_base_index(
    registry: TestRegistry, repo_name: str, run: Run
) -> None:
    base_repo = f"{repo_name}-base"
    base = f"{registry.host}/{base_repo}:1"
    first = registry.push_index(
        base_repo, "1", {"linux/amd64": ["os", "b1"], "linux/arm64": ["os arm", "b1 arm"]}
    )
    run("watch", "add", base)
    registry.push_index(
        repo_name,
        "prod",
        {"linux/amd64": ["os", "b1", "app"], "linux/arm64": ["os arm", "b1 arm", "app"]},
        attestation=False,
    )
    app = f"{registry.host}/{repo_name}:prod"
    [row] = as_json(run("drift", app, "-o", "json"))
    assert (row["found_by"], row["base"], row["base_digest"]) == ("layers", base, str(first))
    wide = run("drift", app, "-o", "wide").stdout
    assert "BUILD CURRENT FROM" in wide and row["base_current_from"][:19] in wide
