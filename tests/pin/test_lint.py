"""`tagwatch lint`: every image reference in Kubernetes YAML and Dockerfiles, at the right line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tagwatch.core.digests import Digest
from tagwatch.core.dockerfile_images import is_dockerfile
from tagwatch.core.image_uses import RefKind, UseState
from tagwatch.core.pinning import apply_edits, edit_for, find_images
from tagwatch.errors import UsageError
from tests.pin.conftest import Run, as_json

PINNED = "sha256:" + "a" * 64

WORKLOADS = f"""\
# every kind of workload, in one multi-document file
apiVersion: v1
kind: Pod
metadata:
  name: solo
spec:
  containers:
  - name: main
    image: nginx
  ephemeralContainers:
  - name: debug
    image: busybox:1.36
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: "ghcr.io/org/migrate:v3"
      containers:
        - name: app
          image: 'ghcr.io/org/app:prod'   # the app
          imagePullPolicy: Always
        - name: proxy
          image: envoyproxy/envoy:v1.31@{PINNED}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
  template:
    spec:
      containers: [{{name: pg, image: "postgres:16"}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  template:
    spec:
      containers:
      - name: agent
        image: quay.io/org/agent:latest
        imagePullPolicy: IfNotPresent
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: rs}}
spec:
  template:
    spec:
      containers:
      - name: rs
        image: registry.example.com:5000/team/rs:1.0
---
apiVersion: batch/v1
kind: Job
metadata: {{name: once}}
spec:
  template:
    spec:
      containers:
      - name: once
        image: alpine@{PINNED}
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: nightly}}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: report
            image: ghcr.io/org/report:2024.11
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {{name: listed}}
  spec:
    containers:
    - name: listed
      image: ${{IMAGE}}
"""

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.12-slim
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
RUN <<EOF
FROM not-an-instruction:inside-a-heredoc
EOF
from ${BASE} as runtime
FROM build AS test
FROM scratch
COPY --from=build /out /out
COPY --from=nginx:1.27 /etc/nginx /etc/nginx
FROM \\
    debian:bookworm \\
    AS final
FROM --platform=linux/arm64 alpine:3.20@PINNED
""".replace("PINNED", PINNED)


def _line_of(text: str, raw: str) -> int:
    """The 1-based line of the one line that names `raw` as an image (found by text search)."""
    [line] = [
        n
        for n, content in enumerate(text.splitlines(), 1)
        if re.search(rf"image:\s*['\"]?{re.escape(raw)}['\"]?(\s|,|}}|$)", content)
    ]
    return line


def _found(path: Path) -> list[tuple[int, str, str, str]]:
    return [
        (u.line, u.kind.value, u.raw, u.state.value)
        for u in find_images(path.read_text(), str(path))
    ]


def test_lint_finds_every_podspec_reference_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "workloads.yaml"
    path.write_text(WORKLOADS)
    expected = [
        ("container", "nginx", "unpinned"),
        ("ephemeralContainer", "busybox:1.36", "unpinned"),
        ("initContainer", "ghcr.io/org/migrate:v3", "unpinned"),
        ("container", "ghcr.io/org/app:prod", "unpinned"),
        ("container", f"envoyproxy/envoy:v1.31@{PINNED}", "pinned"),
        ("container", "postgres:16", "unpinned"),
        ("container", "quay.io/org/agent:latest", "unpinned"),
        ("container", "registry.example.com:5000/team/rs:1.0", "unpinned"),
        ("container", f"alpine@{PINNED}", "pinned"),
        ("container", "ghcr.io/org/report:2024.11", "unpinned"),
        ("container", "${IMAGE}", "unresolvable"),
    ]
    assert _found(path) == [
        (_line_of(WORKLOADS, raw), kind, raw, state) for kind, raw, state in expected
    ]


def test_lint_names_the_workload_and_container(tmp_path: Path) -> None:
    uses = find_images(WORKLOADS, "w.yaml")
    where = {u.raw: u.where for u in uses}
    assert where["ghcr.io/org/migrate:v3"] == "Deployment/web initContainer migrate"
    assert where["ghcr.io/org/report:2024.11"] == "CronJob/nightly container report"
    assert where["busybox:1.36"] == "Pod/solo ephemeralContainer debug"


def test_pull_policy_consequence_follows_kubernetes_defaults(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "workloads.yaml"
    path.write_text(WORKLOADS)
    rows = {
        r["image"]: r for r in as_json(run("lint", str(path), "-o", "json", code=1, with_db=False))
    }
    assert rows["nginx"]["pull_policy"] == "Always"  # no tag means latest
    assert rows["ghcr.io/org/migrate:v3"]["pull_policy"] == "IfNotPresent"
    assert "nodes keep the bytes" in rows["ghcr.io/org/migrate:v3"]["consequence"]
    assert "restart alone" in rows["nginx"]["consequence"]
    # An explicit policy wins over the default, both ways.
    assert rows["ghcr.io/org/app:prod"]["pull_policy"] == "Always"
    assert rows["quay.io/org/agent:latest"]["pull_policy"] == "IfNotPresent"
    assert rows[f"alpine@{PINNED}"]["state"] == "pinned"
    assert rows["nginx"]["ref"] == "docker.io/library/nginx:latest"
    assert (rows["nginx"]["file"], rows["nginx"]["line"]) == (
        str(path),
        _line_of(WORKLOADS, "nginx"),
    )


def test_dockerfile_from_lines_skip_scratch_and_stages(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(DOCKERFILE)
    assert _found(path) == [
        (3, "from", "golang:1.22", "unpinned"),
        (7, "from", "${BASE}", "unresolvable"),
        (11, "copy_from", "nginx:1.27", "unpinned"),
        (13, "from", "debian:bookworm", "unpinned"),
        (15, "from", f"alpine:3.20@{PINNED}", "pinned"),
    ]
    uses = find_images(DOCKERFILE, str(path))
    assert uses[0].where == "FROM (stage build, platform $BUILDPLATFORM)"
    assert "build argument" in (uses[1].problem or "")
    assert uses[4].where == "FROM (stage 5, platform linux/arm64)"


def test_dockerfiles_are_told_apart_from_yaml() -> None:
    assert is_dockerfile("Dockerfile", "")
    assert is_dockerfile("build/api.Dockerfile", "")
    assert is_dockerfile("Containerfile.prod", "")
    assert is_dockerfile("image.build", "# comment\nFROM alpine\n")
    assert not is_dockerfile("deploy.yaml", "FROM alpine\n")
    assert not is_dockerfile("manifest", "kind: Pod\n")


def test_dockerfile_escape_directive_changes_the_continuation() -> None:
    text = "# escape=`\nFROM `\n  mcr.microsoft.com/windows/servercore:ltsc2022\n"
    [use] = find_images(text, "Dockerfile")
    assert (use.line, use.raw) == (3, "mcr.microsoft.com/windows/servercore:ltsc2022")


def test_kustomize_images_are_references(tmp_path: Path) -> None:
    text = (
        "resources: [deployment.yaml]\n"
        "images:\n"
        "- name: nginx\n"
        "  newTag: '1.27'\n"
        "- name: app\n"
        "  newName: ghcr.io/org/app\n"
        f"  digest: {PINNED}\n"
    )
    uses = find_images(text, "kustomization.yaml")
    assert [(u.line, u.kind, u.raw, u.state) for u in uses] == [
        (4, RefKind.KUSTOMIZE, "nginx:1.27", UseState.UNPINNED),
        (6, RefKind.KUSTOMIZE, f"ghcr.io/org/app@{PINNED}", UseState.PINNED),
    ]
    pinned = apply_edits(text, [edit_for(uses[0], Digest.parse(PINNED), text)])
    assert pinned == text.replace("  newTag: '1.27'\n", f"  newTag: '1.27'\n  digest: {PINNED}\n")
    assert [u.state for u in find_images(pinned, "kustomization.yaml")] == [UseState.PINNED] * 2


def test_lint_exit_code_is_0_when_everything_is_pinned(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(
        f"kind: Pod\nspec:\n  containers:\n  - name: a\n    image: nginx:1.27@{PINNED}\n"
    )
    result = run("lint", str(path), with_db=False)
    assert result.stdout == ""
    assert "1 image references in 1 files: 0 unpinned" in result.stderr


def test_lint_reports_file_and_line_in_the_table(tmp_path: Path, run: Run) -> None:
    path = tmp_path / "workloads.yaml"
    path.write_text(WORKLOADS)
    result = run("lint", str(path), code=1, with_db=False)
    line = _line_of(WORKLOADS, "ghcr.io/org/app:prod")
    column = WORKLOADS.splitlines()[line - 1].index("'ghcr.io") + 1
    assert (
        f"{path}:{line}:{column}: unpinned ghcr.io/org/app:prod (Deployment/web container app)"
        in (result.stdout)
    )
    assert "alpine@" not in result.stdout  # pinned references are not problems
    assert "11 image references in 1 files: 8 unpinned" in result.stderr


def test_lint_walks_directories(tmp_path: Path, run: Run) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "web.yml").write_text(WORKLOADS)
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "notes.txt").write_text("image: not-a-manifest\n")
    rows = as_json(run("lint", str(tmp_path), "-o", "json", code=1, with_db=False))
    assert {Path(r["file"]).name for r in rows} == {"web.yml", "Dockerfile"}


def test_bad_yaml_is_exit_2_with_one_line_naming_file_and_line(tmp_path: Path, run: Run) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(WORKLOADS)
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pod\nspec:\n  containers:\n  - name: a\n    image: [nginx\n  x: 1\n")
    result = run("lint", str(good), str(bad), code=2, with_db=False)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {bad}:6: not valid YAML")


def test_unreadable_file_is_exit_2(tmp_path: Path, run: Run) -> None:
    result = run("lint", str(tmp_path / "missing.yaml"), code=2, with_db=False)
    assert (
        result.stderr.strip()
        == f"error: {tmp_path / 'missing.yaml'}: cannot read: No such file or directory"
    )
    binary = tmp_path / "blob.yaml"
    binary.write_bytes(b"kind: Pod\n\xff\xfe\n")
    result = run("lint", str(binary), code=2, with_db=False)
    assert result.stderr.strip() == f"error: {binary}:2: not UTF-8 text"


def test_yaml_errors_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"^x.yaml:2: not valid YAML"):
        find_images("a: 1\n b: : 2\n", "x.yaml")


def test_aliases_are_reported_once() -> None:
    text = (
        "kind: Pod\nspec:\n  containers:\n  - &c {name: a, image: nginx:1}\n"
        "  initContainers:\n  - *c\n"
    )
    uses = find_images(text, "p.yaml")
    assert [(u.line, u.raw) for u in uses] == [(4, "nginx:1")]


def test_spans_are_the_same_with_libyaml_and_pure_python(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    import tagwatch.core.yaml_images as yaml_images

    text = WORKLOADS.replace("\n", "\r\n").replace("# every", "# évery €")
    fast = find_images(text, "w.yaml")
    monkeypatch.setattr(yaml_images, "_LOADER", yaml.SafeLoader)
    slow = find_images(text, "w.yaml")
    assert fast == slow
    for use in fast:
        if use.span is not None:
            assert text[use.span[0] : use.span[1]] == use.raw
    assert sum(u.span is not None for u in fast) == len(fast)


def test_block_scalar_images_are_found_but_not_edited_in_place() -> None:
    text = "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: >-\n      nginx:1.27\n"
    [use] = find_images(text, "p.yaml")
    assert (use.raw, use.span) == ("nginx:1.27", None)
    with pytest.raises(UsageError, match="cannot be rewritten in place"):
        edit_for(use, Digest.parse(PINNED), text)
