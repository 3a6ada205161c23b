"""Every CLI command that takes a file, given /dev/null, a FIFO, a directory or a symlink loop
instead: an answer (exit 0, 1, 2 or 3), one line when it refuses, never a traceback or a hang
(issue 13: "a test that runs each CLI command with /dev/null, a FIFO, a directory and a
symlink loop as its file arguments")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tagwatch.cli.main import app

#: Each command with the place its file goes (`{}`), as typed.
COMMANDS = [
    ["run", "--config", "{}"],
    ["check", "--config", "{}"],
    ["history", "--config", "{}"],
    ["backfill", "nginx:1.27", "--config", "{}"],
    ["drift", "--config", "{}"],
    ["watch", "add", "nginx:1.27", "--config", "{}"],
    ["watch", "list", "--config", "{}"],
    ["watch", "remove", "nginx:1.27", "--config", "{}"],
    ["db", "upgrade", "--config", "{}"],
    ["config", "validate", "--config", "{}"],
    ["skew", "-A", "--offline", "--config", "{}"],
    ["skew", "-A", "--offline", "--kubeconfig", "{}"],
    ["verify", "deployment/web", "--offline", "--kubeconfig", "{}"],
    ["lint", "{}"],
    ["pin", "{}"],
    ["pin", "{}", "--config", "{}"],
]
ODD = ["dev-null", "fifo", "directory", "symlink-loop"]


@pytest.fixture
def odd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    for name in ("TAGWATCH_CONFIG", "TAGWATCH_DATABASE_URL", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # nobody writes to it: a read would block forever
    directory = tmp_path / "dir.yaml"
    directory.mkdir()
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    return {
        "dev-null": os.devnull,
        "fifo": str(fifo),
        "directory": str(directory),
        "symlink-loop": str(loop),
    }


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ODD)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(a for a in c if a != "{}"))
def test_an_odd_file_argument_gets_an_answer_never_a_traceback_or_a_hang(
    odd: dict[str, str], command: list[str], kind: str
) -> None:
    argv = [odd[kind] if arg == "{}" else arg for arg in command]
    result = CliRunner().invoke(app, argv)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in (0, 1, 2, 3), result.output
    if result.exit_code == 2:
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, lines
    assert "Traceback" not in result.output
