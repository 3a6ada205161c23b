"""Progress of long work: status lines on a terminal's stderr, nothing extra when piped.

Each command runs in its own process with stderr on a pseudo-terminal (what a user sees),
then again with stderr on a pipe (what CI logs and scripts see).
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import kube_fixtures as kf
from tests.support.cluster import Kube
from tests.support.kube_fixtures import C
from tests.support.registry import TestRegistry

_ENV = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
for _name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TAGWATCH_CONFIG"):
    _ENV.pop(_name, None)


def _tagwatch(*args: str, terminal: bool, cwd: Path) -> tuple[int, str, str]:
    """Run `python -m tagwatch ARGS`: (exit code, stdout, stderr as the terminal or pipe got it)."""
    cmd = [sys.executable, "-m", "tagwatch", *args]
    if not terminal:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_ENV, cwd=cwd, check=False)
        return proc.returncode, proc.stdout, proc.stderr
    master, slave = pty.openpty()
    child = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=_ENV, cwd=cwd
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:  # the status line redraws often: keep the terminal from filling up
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    out, _ = child.communicate()
    reader.join()
    os.close(master)
    return child.returncode, out.decode(), b"".join(chunks).decode(errors="replace")


def test_check_counts_the_tags_on_a_terminal_and_prints_nothing_extra_to_a_pipe(
    registry: TestRegistry, repo_name: str, tmp_path: Path
) -> None:
    refs = []
    for tag in ("a", "b", "c"):
        registry.push_image(repo_name, tag, content=f"build {tag}")
        refs.append(f"{registry.host}/{repo_name}:{tag}")
    db = f"sqlite:///{tmp_path / 'tagwatch.db'}"

    code, out, terminal = _tagwatch("check", *refs, "--db", db, terminal=True, cwd=tmp_path)
    assert code == 0, terminal
    assert "checking 3 tags: 3 of 3 done" in terminal, terminal
    assert "checking 3 tags" not in out  # the table on stdout is the same either way

    code, piped_out, piped_err = _tagwatch("check", *refs, "--db", db, terminal=False, cwd=tmp_path)
    assert code == 0, piped_err
    assert piped_err == ""  # no status, no spinner, no escape codes in a log
    assert len(piped_out.splitlines()) == 4  # header and one row per tag


def test_pin_of_a_tree_counts_the_references_it_resolves(
    registry: TestRegistry, repo_name: str, tmp_path: Path
) -> None:
    tree = tmp_path / "k8s"
    tree.mkdir()
    for tag in ("a", "b"):
        registry.push_image(repo_name, tag, content=f"build {tag}")
        (tree / f"{tag}.Dockerfile").write_text(f"FROM {registry.host}/{repo_name}:{tag}\n")
    db = f"sqlite:///{tmp_path / 'tagwatch.db'}"

    code, _, terminal = _tagwatch("pin", str(tree), "--db", db, terminal=True, cwd=tmp_path)
    assert code == 0, terminal
    assert "resolving 2 image references in 2 files: 2 of 2 done" in terminal, terminal

    code, _, piped_err = _tagwatch("pin", str(tree), "--db", db, terminal=False, cwd=tmp_path)
    assert code == 0 and "resolving" not in piped_err, piped_err


def test_verify_says_what_it_waits_for_like_kubectl_rollout_status(
    kube: Callable[..., Kube],
    tmp_path: Path,
) -> None:
    image = "registry.example/shop/web:prod"
    stuck = kube(
        [  # the controller has not observed generation 2 yet: still rolling out
            kf.deployment(
                "web", "shop", containers=[C("web", image)], replicas=1,
                labels={"app": "web"}, generation=2, observed_generation=1,
            ),
        ]
    )  # fmt: skip
    args = ["verify", "deployment/web", "-n", "shop", "--offline", "--timeout", "0s"]
    args += ["--kubeconfig", str(stuck.kubeconfig), "--db", f"sqlite:///{tmp_path / 't.db'}"]
    waiting = (
        'Waiting for deployment "web" rollout to finish: '
        "waiting for the controller to observe the new spec..."
    )

    code, _, terminal = _tagwatch(*args, terminal=True, cwd=tmp_path)
    assert code == 1, terminal  # timed out: the rollout did not finish
    assert waiting in terminal, terminal

    code, _, piped_err = _tagwatch(*args, terminal=False, cwd=tmp_path)
    assert code == 1
    assert "Waiting for" not in piped_err, piped_err


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_backfill_shows_its_status_only_on_a_terminal(terminal: bool, tmp_path: Path) -> None:
    # No vendor is asked for a tag outside Hub, GHCR and ECR: quick, and still long work's path.
    db = f"sqlite:///{tmp_path / 'tagwatch.db'}"
    code, _, err = _tagwatch(
        "backfill", "registry.example/app:1", "--db", db, terminal=terminal, cwd=tmp_path
    )
    assert code == 1, err  # no vendor API for that registry: not backfilled
    assert ("backfilling 1 tags from their vendors' APIs" in err) is terminal, err
