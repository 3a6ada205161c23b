"""The README's first command runs the service end to end, and runs again right after."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _quickstart(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "quickstart.py")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


@pytest.mark.timeout(330)
def test_quickstart_runs_the_service_and_can_run_twice_in_a_row(tmp_path: Path) -> None:
    for run in (1, 2):  # the second run must not meet the first run's registry or database
        done = _quickstart(tmp_path)
        assert done.returncode == 0, f"run {run}:\n{done.stdout}\n{done.stderr}"
        out = done.stdout
        assert "tagwatch run --config tagwatch.yaml (from config/quickstart.yaml)" in out
        assert '"change": "moved"' in out  # the API's answer
        assert "was re-pushed" in out  # the Slack stand-in's log
        history = out.split("$ tagwatch history", 1)[1]
        assert "first_seen" in history and "moved" in history
    assert list(tmp_path.iterdir()) == []  # nothing left behind in the working directory


def test_readme_starts_with_the_quickstart() -> None:
    readme = (ROOT / "README.md").read_text()
    quickstart = readme.split("## Quickstart", 1)[1]
    first_command = quickstart.split("```sh\n", 1)[1].splitlines()[0]
    assert first_command.startswith("bash scripts/quickstart")
    assert (ROOT / "scripts" / "quickstart").exists()
