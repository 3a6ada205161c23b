"""Odd files named to `lint` and `pin` (issue 13 #8): a symlink loop is one line, FIFOs and
devices are reported and skipped without blocking or filling memory, non-string and malformed
references are findings (lint exits 1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tagwatch.app.files import MAX_FILE_BYTES, Skipped, read_regular
from tests.pin.conftest import Run


def test_a_symlink_loop_is_one_line_exit_2(run: Run, tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    for command in ("lint", "pin"):
        result = run(command, str(loop), code=2, with_db=command == "pin")
        assert result.output.strip().splitlines() == [
            f"error: {loop}: cannot read: Too many levels of symbolic links"
        ]


@pytest.mark.timeout(20)
def test_a_fifo_and_dev_zero_are_skipped_and_reported(run: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # nobody writes: reading it would block forever
    good = tmp_path / "pod.yaml"
    good.write_text("containers:\n- {name: a, image: nginx:1.27}\n")
    result = run("lint", str(fifo), "/dev/zero", str(good), code=1, with_db=False)
    assert f"warning: {fifo}: skipped: a FIFO, not a regular file" in result.output
    assert "warning: /dev/zero: skipped: a character device, not a regular file" in result.output
    assert "1 image references in 1 files: 1 unpinned" in result.output


def test_only_odd_files_is_nothing_to_read_exit_2(run: Run) -> None:
    result = run("lint", "/dev/zero", "/dev/null", code=2, with_db=False)
    assert result.output.strip() == (
        "error: nothing to read: /dev/zero: skipped: a character device, not a regular file "
        "(and more)"
    )


def test_a_file_over_the_size_cap_is_skipped(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)
    assert read_regular(big, "big.yaml") == Skipped("big.yaml", "larger than 8 MiB")
    small = tmp_path / "small.yaml"
    small.write_bytes(b"x" * 10)
    data, _ = read_regular(small, "small.yaml", limit=10)  # type: ignore[misc]
    assert data == b"x" * 10
    assert isinstance(read_regular(small, "small.yaml", limit=9), Skipped)


def test_an_image_that_is_a_list_is_an_invalid_finding_not_a_node_dump(
    run: Run, tmp_path: Path
) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text("containers:\n- name: a\n  image: [1, 2]\n")
    result = run("lint", str(pod), code=1, with_db=False)
    assert "Node" not in result.output
    assert result.stdout.strip() == (
        f"{pod}:3:10: invalid <sequence> (container a): "
        "not a valid image reference: image is not a string"
    )


def test_a_malformed_digest_is_a_finding_and_lint_exits_1(run: Run, tmp_path: Path) -> None:
    pod = tmp_path / "pod.yaml"
    pod.write_text("containers:\n- {name: a, image: 'reg.example/app@sha256:abc'}\n")
    result = run("lint", str(pod), "-o", "json", code=1, with_db=False)
    [use] = json.loads(result.stdout)
    assert use["state"] == "invalid"
    assert "64 lowercase hex" in use["consequence"]


def test_pin_reports_a_malformed_reference_as_an_error_and_writes_nothing(
    run: Run, tmp_path: Path
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    text = "FROM reg.example/app@sha256:abc\n"
    dockerfile.write_text(text)
    result = run("pin", str(dockerfile), "--write", "-o", "json", code=1)
    report = json.loads(result.stdout)
    assert [r["action"] for r in report["results"]] == ["error"]
    assert report["written"] == []
    assert dockerfile.read_text() == text
