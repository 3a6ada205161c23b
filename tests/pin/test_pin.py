"""`tagwatch pin`: tags resolved against the real test registry, files rewritten byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

from tagwatch.core.digests import Digest
from tests.pin.conftest import Run, as_json
from tests.support.registry import TestRegistry

MANIFEST = """\
# Web tier. Keep the comments, the quoting and the CRLF line endings.\r
apiVersion: apps/v1\r
kind: Deployment\r
metadata: {name: web}\r
spec:\r
  template:\r
    spec:\r
      initContainers:\r
      - name: init\r
        image: "HOST/REPO:init"     # quoted, with a comment\r
      containers:\r
      - {name: app, image: HOST/REPO:prod, imagePullPolicy: Always}\r
      - name: side\r
        image: 'HOST/REPO:side'\r
"""

DOCKERFILE = """\
ARG VERSION=1
FROM --platform=$BUILDPLATFORM HOST/REPO:prod AS build
RUN echo building   # HOST/REPO:prod in a comment stays
FROM build
FROM scratch
COPY --from=build /out /out
"""


def _write(tmp_path: Path, name: str, template: str, image: str) -> Path:
    path = tmp_path / name
    path.write_bytes(template.replace("HOST/REPO", image).encode())
    return path


def test_pin_write_changes_only_the_image_values(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path
) -> None:
    image = f"{registry.host}/{repo_name}"
    digests = {
        tag: registry.push_image(repo_name, tag, content=tag) for tag in ("init", "prod", "side")
    }
    manifest = _write(tmp_path, "web.yaml", MANIFEST, image)
    dockerfile = _write(tmp_path, "Dockerfile", DOCKERFILE, image)
    os.chmod(manifest, 0o640)
    before = {p: p.read_bytes() for p in (manifest, dockerfile)}

    report = as_json(run("pin", str(manifest), str(dockerfile), "--write", "-o", "json"))

    assert sorted(report["written"]) == sorted([str(manifest), str(dockerfile)])
    assert {r["action"] for r in report["results"]} == {"pin"}
    expected_yaml = (
        before[manifest]
        .replace(f'"{image}:init"'.encode(), f'"{image}:init@{digests["init"]}"'.encode())
        .replace(
            f"image: {image}:prod,".encode(), f"image: {image}:prod@{digests['prod']},".encode()
        )
        .replace(f"'{image}:side'".encode(), f"'{image}:side@{digests['side']}'".encode())
    )
    assert manifest.read_bytes() == expected_yaml
    assert b"\r\n" in expected_yaml and expected_yaml != before[manifest]
    expected_docker = before[dockerfile].replace(
        f"$BUILDPLATFORM {image}:prod AS".encode(),
        f"$BUILDPLATFORM {image}:prod@{digests['prod']} AS".encode(),
    )
    assert dockerfile.read_bytes() == expected_docker
    assert b"# HOST/REPO:prod in a comment".replace(b"HOST/REPO", image.encode()) in expected_docker
    assert manifest.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dockerfile", "tagwatch.db", "web.yaml"]

    # Pinned now: lint passes and a second pin verifies instead of changing anything.
    run("lint", str(manifest), str(dockerfile), with_db=False)
    again = as_json(run("pin", str(manifest), str(dockerfile), "--write", "-o", "json"))
    assert {r["action"] for r in again["results"]} == {"ok"}
    assert again["written"] == []
    assert manifest.read_bytes() == expected_yaml


def test_pin_prints_replacements_without_writing(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path
) -> None:
    image = f"{registry.host}/{repo_name}"
    digest = registry.push_image(repo_name, "latest", content="x")
    pod = tmp_path / "pod.yaml"
    pod.write_text(f"kind: Pod\nspec:\n  containers:\n  - name: a\n    image: {image}\n")
    before = pod.read_bytes()
    result = run("pin", str(pod))
    # No tag means latest: the pin keeps the tag visible next to the digest.
    assert f"{image}:latest@{digest}" in result.stdout
    assert pod.read_bytes() == before


def test_pin_records_what_it_resolved_in_the_history(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path
) -> None:
    image = f"{registry.host}/{repo_name}"
    digest = registry.push_image(repo_name, "prod", content="v1")
    path = _write(tmp_path, "Dockerfile", DOCKERFILE, image)
    run("pin", str(path))
    [event] = as_json(run("history", f"{image}:prod", "-o", "json"))
    assert (event["change"], event["to_digest"]) == ("first_seen", str(digest))


def test_pin_writes_nothing_when_one_reference_fails_to_resolve(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path
) -> None:
    image = f"{registry.host}/{repo_name}"
    registry.push_image(repo_name, "init", content="init")
    registry.push_image(repo_name, "prod", content="prod")  # no `side` tag
    manifest = _write(tmp_path, "web.yaml", MANIFEST, image)
    dockerfile = _write(tmp_path, "Dockerfile", DOCKERFILE, image)
    before = {p: p.read_bytes() for p in (manifest, dockerfile)}

    result = run("pin", str(manifest), str(dockerfile), "--write", "-o", "json", code=1)

    report = as_json(result)
    assert report["written"] == []
    failed = [r for r in report["results"] if r["action"] == "error"]
    assert [(r["image"], r["message"]) for r in failed] == [
        (f"{image}:side", "tag not found in the registry")
    ]
    assert {p: p.read_bytes() for p in (manifest, dockerfile)} == before
    assert "nothing written" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dockerfile", "tagwatch.db", "web.yaml"]


def test_pin_of_an_unreachable_registry_writes_nothing(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path
) -> None:
    image = f"{registry.host}/{repo_name}"
    registry.push_image(repo_name, "prod", content="prod")
    dockerfile = _write(tmp_path, "Dockerfile", DOCKERFILE, image)
    pod = tmp_path / "pod.yaml"
    pod.write_text("kind: Pod\nspec:\n  containers:\n  - {name: a, image: 127.0.0.1:1/x/y:1}\n")
    before = {p: p.read_bytes() for p in (dockerfile, pod)}
    report = as_json(run("pin", str(dockerfile), str(pod), "--write", "-o", "json", code=1))
    assert [r["action"] for r in report["results"]] == ["pin", "error"]
    assert {p: p.read_bytes() for p in (dockerfile, pod)} == before


def test_pinned_reference_whose_tag_moved_is_drift_and_stays_without_update(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path
) -> None:
    image = f"{registry.host}/{repo_name}"
    old = registry.push_image(repo_name, "prod", content="v1")
    pod = tmp_path / "pod.yaml"
    pod.write_text(
        f"kind: Pod\nspec:\n  containers:\n  - name: a\n    image: {image}:prod@{old}  # pinned\n"
    )
    run("check", f"{image}:prod")  # the history knows when the tag was on the old digest
    new = registry.push_image(repo_name, "prod", content="v2")
    before = pod.read_bytes()

    result = run("pin", str(pod), "--write", "-o", "json", code=1)

    [drift] = as_json(result)["results"]
    assert drift["action"] == "drift"
    assert (drift["pinned_digest"], drift["digest"]) == (str(old), str(new))
    assert drift["moved_at"] is not None
    assert "--update" in drift["message"]
    assert pod.read_bytes() == before

    table = run("pin", str(pod), code=1)
    assert "drift" in table.stdout and "moved 20" in table.stdout

    updated = as_json(run("pin", str(pod), "--write", "--update", "-o", "json"))
    assert [r["action"] for r in updated["results"]] == ["update"]
    assert pod.read_bytes() == before.replace(str(old).encode(), str(new).encode())


def test_pin_to_a_platform_child_of_the_tags_index_is_current(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path
) -> None:
    image = f"{registry.host}/{repo_name}"
    index = registry.push_index(
        repo_name, "multi", platforms={"linux/amd64": "a", "linux/arm64": "b"}
    )
    child = registry.child_digests(repo_name, index)["linux/arm64"]
    pod = tmp_path / "pod.yaml"
    pod.write_text(
        f"kind: Pod\nspec:\n  containers:\n  - name: a\n    image: {image}:multi@{child}\n"
    )
    [result] = as_json(run("pin", str(pod), "-o", "json"))["results"]
    assert (result["action"], result["digest"]) == ("ok", str(index))
    assert Digest.parse(result["pinned_digest"]) == child


def test_pin_skips_build_args_and_digest_only_references(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path
) -> None:
    image = f"{registry.host}/{repo_name}"
    digest = registry.push_image(repo_name, "v1", content="v1")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"ARG BASE\nFROM ${{BASE}}\nFROM {image}@{digest}\nFROM {image}:v1\n")
    report = as_json(run("pin", str(dockerfile), "--write", "-o", "json"))
    assert [r["action"] for r in report["results"]] == ["skipped", "pinned", "pin"]
    assert dockerfile.read_text().endswith(f"FROM {image}:v1@{digest}\n")


def test_pin_bad_yaml_is_exit_2_before_any_request(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pod\nspec: {containers: [\n")
    result = run("pin", str(bad), "--write", code=2)
    assert result.stderr.strip().startswith(f"error: {bad}:3: not valid YAML")
    assert len(result.stderr.strip().splitlines()) == 1


def test_pin_write_adds_a_digest_to_kustomize_images(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path
) -> None:
    image = f"{registry.host}/{repo_name}"
    digest = registry.push_image(repo_name, "1.0", content="k")
    kustomization = tmp_path / "kustomization.yaml"
    kustomization.write_text(
        "resources:\n- deployment.yaml\nimages:\n"
        f"- name: app\n  newName: {image}\n  newTag: '1.0'  # release\n"
        "namePrefix: prod-\n"
    )
    before = kustomization.read_text()
    report = as_json(run("pin", str(kustomization), "--write", "-o", "json"))
    assert [r["action"] for r in report["results"]] == ["pin"]
    assert kustomization.read_text() == before.replace(
        "  newTag: '1.0'  # release\n", f"  newTag: '1.0'  # release\n  digest: {digest}\n"
    )
    run("lint", str(kustomization), with_db=False)
