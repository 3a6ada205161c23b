"""BuildKit provenance: which input of a build is its base image (SLSA v0.2 and v1)."""

from __future__ import annotations

from typing import Any

import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.provenance import base_from_statement, parse_docker_purl
from tagwatch.core.references import ImageRef

ALPINE = "a" * 64
GOLANG = "b" * 64
FRONTEND = "c" * 64
V02 = "https://slsa.dev/provenance/v0.2"
V1 = "https://slsa.dev/provenance/v1"


def _v02(materials: list[dict[str, Any]], **predicate: Any) -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": V02,
        "subject": [{"name": "app", "digest": {"sha256": "d" * 64}}],
        "predicate": {"materials": materials, **predicate},
    }


def _v1(dependencies: list[dict[str, Any]], **build: Any) -> dict[str, Any]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "predicateType": V1,
        "predicate": {"buildDefinition": {"resolvedDependencies": dependencies, **build}},
    }


def _image(purl: str, sha: str) -> dict[str, Any]:
    return {"uri": purl, "digest": {"sha256": sha}}


@pytest.mark.parametrize(
    ("purl", "ref", "platform"),
    [
        ("pkg:docker/alpine@3.19?platform=linux%2Famd64", "alpine:3.19", "linux/amd64"),
        ("pkg:docker/library/alpine@3.19", "alpine:3.19", None),
        ("pkg:docker/myorg/base@1.2", "docker.io/myorg/base:1.2", None),
        ("pkg:docker/ghcr.io/org/team/base@v2", "ghcr.io/org/team/base:v2", None),
        ("pkg:docker/localhost%3A5000/base@1", "localhost:5000/base:1", None),
        ("pkg:docker/127.0.0.1:5000/org/base@1", "127.0.0.1:5000/org/base:1", None),
        ("pkg:docker/alpine", "alpine:latest", None),
        ("pkg:docker/base@1?repository_url=quay.io/org", "quay.io/org/base:1", None),
    ],
)
def test_docker_purls_name_the_image_and_tag_buildkit_resolved(
    purl: str, ref: str, platform: str | None
) -> None:
    parsed = parse_docker_purl(purl)
    assert parsed is not None
    assert (parsed[0], parsed[2]) == (ImageRef.parse(ref), platform)


def test_a_digest_only_purl_has_no_tag_and_its_digest() -> None:
    parsed = parse_docker_purl(f"pkg:docker/alpine?digest=sha256:{ALPINE}")
    assert parsed is not None
    assert parsed[0].tag is None and parsed[1] == Digest.parse(f"sha256:{ALPINE}")


@pytest.mark.parametrize(
    "uri", ["https://github.com/org/app.git#main", "pkg:npm/left-pad@1.0.0", "git+https://x/y"]
)
def test_other_inputs_are_not_docker_images(uri: str) -> None:
    assert parse_docker_purl(uri) is None


def test_a_docker_purl_naming_no_valid_image_is_refused() -> None:
    with pytest.raises(ValueError, match="port 99999"):
        parse_docker_purl("pkg:docker/Host:99999/x@1")


def test_v02_base_is_the_image_material_not_the_frontend_or_git() -> None:
    statement = _v02(
        [
            _image("pkg:docker/docker/dockerfile@1.7", FRONTEND),
            _image("pkg:docker/alpine@3.19?platform=linux%2Famd64", ALPINE),
            {"uri": "https://github.com/org/app.git#main", "digest": {"sha1": "e" * 40}},
        ],
        invocation={"parameters": {"frontend": "gateway.v0", "args": {}}},
    )
    found = base_from_statement(statement)
    assert found.base is not None
    assert found.base.ref == ImageRef.parse("alpine:3.19")
    assert found.base.digest == Digest.parse(f"sha256:{ALPINE}")
    assert found.base.platform == "linux/amd64"


def test_a_frontend_named_by_the_source_option_is_no_base() -> None:
    statement = _v02(
        [_image("pkg:docker/org/frontend@2", FRONTEND), _image("pkg:docker/alpine@3", ALPINE)],
        invocation={"parameters": {"args": {"source": "org/frontend:2"}}},
    )
    found = base_from_statement(statement)
    assert found.base is not None and found.base.ref == ImageRef.parse("alpine:3")


def test_v1_resolved_dependencies_name_the_base() -> None:
    statement = _v1(
        [
            _image("pkg:docker/docker/dockerfile@1", FRONTEND),
            _image("pkg:docker/ghcr.io/org/base@2?platform=linux%2Farm64", ALPINE),
        ],
        externalParameters={"request": {"frontend": "gateway.v0"}},
    )
    found = base_from_statement(statement)
    assert found.base is not None
    assert (found.base.ref, found.base.platform) == (
        ImageRef.parse("ghcr.io/org/base:2"),
        "linux/arm64",
    )


def _step(step_id: str, op: dict[str, Any], *inputs: str) -> dict[str, Any]:
    return {"id": step_id, "op": {"Op": op}, "inputs": list(inputs)}


def _multi_stage(final_from_scratch: bool = False) -> list[dict[str, Any]]:
    """FROM golang AS build; RUN go build; FROM alpine (or scratch); COPY --from=build."""
    golang = _step(
        "step0",
        {"source": {"identifier": f"docker-image://docker.io/library/golang:1.22@sha256:{GOLANG}"}},
    )
    build = _step("step1", {"exec": {"mounts": [{"dest": "/"}]}}, "step0:0")
    alpine = _step(
        "step2",
        {"source": {"identifier": f"docker-image://docker.io/library/alpine:3.19@sha256:{ALPINE}"}},
    )
    if final_from_scratch:
        copy = _step(
            "step3", {"file": {"actions": [{"input": -1, "secondaryInput": 0}]}}, "step1:0"
        )
    else:
        copy = _step("step3", {"file": {"actions": [{"secondaryInput": 1}]}}, "step2:0", "step1:0")
    return [golang, build, alpine, copy, {"id": "step4", "op": {"Op": None}, "inputs": ["step3:0"]}]


def test_multi_stage_base_is_the_last_stages_from_image() -> None:
    materials = [
        _image("pkg:docker/alpine@3.19", ALPINE),
        _image("pkg:docker/golang@1.22", GOLANG),
    ]
    statement = _v02(materials, buildConfig={"llbDefinition": _multi_stage()})
    found = base_from_statement(statement)
    assert found.base is not None and found.base.ref == ImageRef.parse("alpine:3.19")


def test_v1_multi_stage_graph_is_read_from_internal_parameters() -> None:
    statement = _v1(
        [_image("pkg:docker/golang@1.22", GOLANG), _image("pkg:docker/alpine@3.19", ALPINE)],
        internalParameters={"buildConfig": {"llbDefinition": _multi_stage()}},
    )
    found = base_from_statement(statement)
    assert found.base is not None and found.base.ref == ImageRef.parse("alpine:3.19")


def test_a_final_stage_from_scratch_has_no_base_even_when_it_copies_from_one() -> None:
    statement = _v02(
        [_image("pkg:docker/golang@1.22", GOLANG)],
        buildConfig={"llbDefinition": _multi_stage(final_from_scratch=True)},
    )
    found = base_from_statement(statement)
    assert found.base is None and "scratch" in found.reason


def test_several_stages_without_a_graph_are_candidates_not_a_guess() -> None:
    statement = _v02(
        [_image("pkg:docker/golang@1.22", GOLANG), _image("pkg:docker/alpine@3.19", ALPINE)]
    )
    found = base_from_statement(statement)
    assert found.base is None
    assert [c.ref.repository for c in found.candidates] == ["library/golang", "library/alpine"]


def test_statements_that_are_not_slsa_provenance_name_no_base() -> None:
    found = base_from_statement({"predicateType": "https://spdx.dev/Document", "predicate": {}})
    assert found.base is None and "not SLSA provenance" in found.reason
    assert base_from_statement(_v02([])).reason == "the provenance lists no base image"
