"""A failed check is reported once per tag on stderr, not once per layer that saw it.

Run as a user runs it (a fresh process, no logging configured): in-process, pytest's own
logging handlers would hide the duplicates Python's last-resort handler prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.registry import TestRegistry


def _tagwatch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path)}  # no credentials
    env.pop("TAGWATCH_CONFIG", None)
    env["TAGWATCH_DATABASE_URL"] = f"sqlite:///{tmp_path / 'tw.db'}"
    return subprocess.run(
        [sys.executable, "-m", "tagwatch", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


@pytest.mark.parametrize("output", ["table", "json"])
def test_a_refused_check_is_one_line_on_stderr(
    output: str, basic_registry: TestRegistry, repo_name: str, tmp_path: Path
) -> None:
    ref = f"{basic_registry.host}/{repo_name}:v1"
    proc = _tagwatch(tmp_path, "check", ref, "-o", output)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {ref}: ")
    assert "anonymous access refused (401)" in lines[0]
    if output == "json":
        assert "anonymous access refused" in json.loads(proc.stdout)[0]["error"]


@pytest.mark.parametrize("command", ["pin", "drift"])
def test_pin_and_drift_report_a_refused_image_in_one_line(
    command: str, basic_registry: TestRegistry, repo_name: str, tmp_path: Path
) -> None:
    ref = f"{basic_registry.host}/{repo_name}:v1"
    (tmp_path / "Dockerfile").write_text(f"FROM {ref}\n")
    proc = _tagwatch(tmp_path, command, "Dockerfile" if command == "pin" else ref)
    # drift is a deploy gate: a refused registry is "could not find out", exit 3 (issue 12)
    assert proc.returncode == (1 if command == "pin" else 3), proc.stderr
    said = (proc.stdout + proc.stderr).splitlines()
    assert len([line for line in said if "401" in line]) == 1, said
