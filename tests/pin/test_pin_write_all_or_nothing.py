"""`pin --write` across several files is all or nothing (issue 13 #4): with one directory
read-only, no file is rewritten; a rename that fails puts back the files already replaced."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagwatch.app.files import Rewrite, replace_all
from tagwatch.errors import TagwatchError
from tests.pin.conftest import Run
from tests.support.registry import TestRegistry


@pytest.fixture
def readonly_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory tagwatch cannot create files in: a read-only tmpfs when we are root (root
    ignores permissions), a 0555 directory otherwise. Write into it with `.writable(...)`."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(path)], check=True)
        else:
            path.chmod(0o755)


def make_readonly(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
    else:
        path.chmod(0o555)


def test_a_read_only_directory_among_the_targets_leaves_every_file_as_it_was(
    registry: TestRegistry, repo_name: str, run: Run, tmp_path: Path, readonly_dir: Path
) -> None:
    registry.push_image(repo_name, "v1", content="one")
    text = f"FROM {registry.host}/{repo_name}:v1\n"
    first = tmp_path / "Dockerfile"
    first.write_text(text)
    second = readonly_dir / "Dockerfile"
    second.write_text(text)
    make_readonly(readonly_dir)

    result = run("pin", str(first), str(second), "--write", code=1)

    assert first.read_text() == text and second.read_text() == text
    assert f"nothing written: {second}: cannot write: Read-only file system" in result.output
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_rename_restores_the_files_already_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [tmp_path / name for name in ("a.yaml", "b.yaml", "c.yaml")]
    for path in paths:
        path.write_text(f"old {path.name}\n")
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        # A rename fails only on a fault no test can cause on demand (EIO, a mount changing
        # under us): injected for the second file's rename only.
        if Path(dst).name == "b.yaml" and Path(src).name.startswith(".b.yaml."):
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr("tagwatch.app.files.os.replace", replace)
    rewrites = [Rewrite(p, p.name, p.read_bytes(), f"new {p.name}\n".encode()) for p in paths]
    with pytest.raises(TagwatchError, match=r"nothing written: b.yaml: cannot replace: Input/o"):
        replace_all(rewrites)
    assert [p.read_text() for p in paths] == [f"old {p.name}\n" for p in paths]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.yaml", "b.yaml", "c.yaml"]


def test_a_long_file_name_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / ("d" * 240 + ".yaml")
    path.write_text("old\n")
    replace_all([Rewrite(path, path.name, b"old\n", b"new\n")])
    assert path.read_text() == "new\n"
