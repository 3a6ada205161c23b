"""Multi-arch images keep revision/source/created: read from a platform image's config when the
index has no annotations, as skopeo shows them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from tagwatch.cli.main import app
from tagwatch.core.moves import LABEL_PREFIX
from tagwatch.registry import RegistryClient
from tests.support.fake_registry import ref_of
from tests.support.registry import TestRegistry

BUILD = {
    LABEL_PREFIX + "revision": "4f1c2e9",
    LABEL_PREFIX + "source": "https://github.com/example/app",
    LABEL_PREFIX + "created": "2026-11-30T10:00:00Z",
    LABEL_PREFIX + "base.name": "docker.io/library/alpine:3.20",
    "maintainer": "team@example.com",
}
PLATFORMS = {"linux/arm64": "arm", "linux/amd64": "amd"}


def skopeo_labels(ref: str) -> dict[str, str]:
    """The labels `skopeo inspect` shows for a (multi-arch) reference."""
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(out.stdout)["Labels"] or {})


async def test_an_index_without_annotations_shows_its_platform_images_labels(
    registry: TestRegistry, repo_name: str
) -> None:
    digest = registry.push_index(repo_name, "prod", PLATFORMS, labels=BUILD)
    ref = ref_of(registry, repo_name, "prod")
    async with RegistryClient() as client:
        build = await client.describe(ref, digest)
    assert (build.revision, build.source) == ("4f1c2e9", "https://github.com/example/app")
    assert build.label("created") == "2026-11-30T10:00:00Z"
    shown = skopeo_labels(str(ref))
    for key in (LABEL_PREFIX + n for n in ("revision", "source", "created")):
        assert build.labels[key] == shown[key]
    # a platform's own base and labels outside the OCI names stay with the platform image
    assert LABEL_PREFIX + "base.name" not in build.labels and "maintainer" not in build.labels
    assert set(build.platforms) == set(PLATFORMS)


async def test_the_index_annotations_win_over_the_platform_labels(
    registry: TestRegistry, repo_name: str
) -> None:
    own = {LABEL_PREFIX + "revision": "index-rev"}
    digest = registry.push_index(repo_name, "prod", PLATFORMS, labels=BUILD, annotations=own)
    async with RegistryClient() as client:
        build = await client.describe(ref_of(registry, repo_name, "prod"), digest)
    assert (build.revision, build.source) == ("index-rev", "https://github.com/example/app")


def test_check_json_shows_revision_and_source_of_a_multi_arch_image(
    registry: TestRegistry, repo_name: str, tmp_path: Path
) -> None:
    registry.push_index(repo_name, "prod", PLATFORMS, labels=BUILD)
    ref = f"{registry.host}/{repo_name}:prod"
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    result = CliRunner().invoke(app, ["check", ref, "-o", "json", "--db", db])
    assert result.exit_code == 0, result.output
    [checked] = json.loads(result.stdout)
    assert checked["revision"] == "4f1c2e9"
    assert checked["source"] == "https://github.com/example/app"
    assert len(checked["platforms"]) == 2
