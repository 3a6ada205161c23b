"""`tagwatch watch add --from-dockerfile`: a Dockerfile's FROM images become base-tag watches."""

from __future__ import annotations

from pathlib import Path

from tagwatch.core.dockerfile_images import expand_args
from tests.pin.conftest import Run, as_json

DOCKERFILE = """\
# syntax=docker/dockerfile:1.7
ARG PYTHON=3.12
ARG VARIANT="slim"
ARG REGISTRY
FROM docker.io/library/golang:1.22 AS build
RUN go build ./...
FROM build AS test
FROM python:${PYTHON}-${VARIANT:-bookworm} AS runtime
COPY --from=build /app /app
COPY --from=docker.io/library/busybox:1.36 /bin/sh /bin/sh
FROM scratch
FROM ${REGISTRY}/org/tool:1
FROM alpine@sha256:{digest}
FROM runtime
"""


def _watched(run: Run) -> dict[str, dict[str, str]]:
    return {w["ref"]: w["labels"] for w in as_json(run("watch", "list", "-o", "json"))}


def test_from_lines_are_watched_as_base_images_stages_and_scratch_skipped(
    tmp_path: Path, run: Run
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE.replace("{digest}", "a" * 64))
    result = run("watch", "add", "--from-dockerfile", str(dockerfile), "--label", "team=web")
    assert _watched(run) == {
        "docker.io/library/golang:1.22": {"purpose": "base-image", "team": "web"},
        "docker.io/library/python:3.12-slim": {"purpose": "base-image", "team": "web"},
    }
    # Reported, not guessed: an ARG without a default, and a FROM naming a digest only.
    assert "Dockerfile:12" in result.stderr and "no default for REGISTRY" in result.stderr
    assert "Dockerfile:13" in result.stderr and "digest only" in result.stderr
    assert "busybox" not in result.stdout  # COPY --from images are not bases


def test_the_base_image_label_can_be_overridden(tmp_path: Path, run: Run) -> None:
    dockerfile = tmp_path / "Containerfile"
    dockerfile.write_text("FROM alpine:3.19\n")
    run("watch", "add", "--from-dockerfile", str(dockerfile), "-l", "purpose=os")
    assert _watched(run) == {"docker.io/library/alpine:3.19": {"purpose": "os"}}


def test_no_images_and_no_dockerfile_is_a_usage_error(tmp_path: Path, run: Run) -> None:
    result = run("watch", "add", code=2)
    assert "--from-dockerfile" in result.output
    missing = run("watch", "add", "--from-dockerfile", str(tmp_path / "nope"), code=2)
    assert "nope" in missing.output and "Traceback" not in missing.output


def test_build_args_expand_as_the_dockerfile_parser_does() -> None:
    args = {"TAG": "1", "EMPTY": "", "UNSET": None}
    assert expand_args("a:$TAG", args) == ("a:1", [])
    assert expand_args("a:${EMPTY:-2}", args) == ("a:2", [])
    assert expand_args("a:1${TAG:+-x}", args) == ("a:1-x", [])
    assert expand_args("$UNSET/a:${NEVER}", args) == (None, ["UNSET", "NEVER"])
