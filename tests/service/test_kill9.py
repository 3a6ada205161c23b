"""kill -9 of a `tagwatch run` process mid-delivery, then a restart: no alert lost, none doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tagwatch.core.references import ImageRef
from tagwatch.store import Store
from tests.support.registry import TestRegistry
from tests.support.services import (
    GITHUB_SECRET,
    GITHUB_SECRET_ENV,
    HOOK_SECRET,
    HOOK_SECRET_ENV,
    SLACK_ENV,
    service_config,
)
from tests.support.slack import VALID_TOKEN, FakeSlack

ROOT = Path(__file__).resolve().parents[2]


class Process:
    """`python -m tagwatch run --config F` as a child process we can kill -9."""

    def __init__(self, config: Path, log: Path, *, pycache: Path | None = None) -> None:
        env = os.environ | {
            SLACK_ENV: VALID_TOKEN,
            HOOK_SECRET_ENV: HOOK_SECRET,
            GITHUB_SECRET_ENV: GITHUB_SECRET,
        }
        if pycache is not None:
            # Restarted many times: compile once into `pycache` rather than at every start
            # (PYTHONDONTWRITEBYTECODE costs each start seconds on a loaded runner).
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(pycache)
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tagwatch", "run", "--config", str(config)],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, url: str, within: float = 90) -> None:
        # Generous: a loaded CI runner can take tens of seconds to import and start.
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"tagwatch run exited {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"tagwatch run never became ready:\n{self.log.read_text()}")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._out.close()


def wait_for(condition: object, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {within} s")


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.close()


def test_kill_9_mid_delivery_then_restart_loses_and_doubles_nothing(
    registry: TestRegistry,
    repo_name: str,
    slack: FakeSlack,
    tmp_path: Path,
    pg_url: str,
    processes: list[Process],
) -> None:
    registry.push_image(repo_name, "v1", content="one")
    ref = ImageRef.parse(f"{registry.host}/{repo_name}:v1")
    config = service_config(
        tmp_path, db=pg_url, watches=[{"ref": str(ref), "interval": "300ms"}], slack=slack
    )
    listen = yaml.safe_load(config.read_text())["listen"]
    url = f"http://{listen}"
    store = Store.open(pg_url)

    def current() -> object:
        with store.begin() as tx:
            history = tx.history(ref)
        return history.current.digest if history.current else None

    def depth() -> int:
        with store.begin() as tx:
            return tx.outbox.depth()

    try:
        first = Process(config, tmp_path / "run-1.log")
        processes.append(first)
        first.wait_healthy(url)
        wait_for(lambda: current() is not None, 10, "the first sighting")

        # 1. Slack takes the message but its answer never arrives; kill -9 right then.
        slack.script("chat.postMessage", "accept-hang")
        two = registry.push_image(repo_name, "v1", content="two")
        wait_for(lambda: len(slack.posts) == 1, 15, "the first alert reaching Slack")
        first.kill9()
        assert depth() == 1  # recorded with its move, not confirmed delivered

        second = Process(config, tmp_path / "run-2.log")
        processes.append(second)
        second.wait_healthy(url)
        wait_for(lambda: depth() == 0, 20, "the restarted service settling the alert")
        assert len(slack.posts) == 1, "the alert Slack already had was posted again"
        assert str(two) in str(slack.posts[0].blocks)

        # 2. Slack hangs before accepting; kill -9 mid-request; the restart delivers it once.
        slack.script("chat.postMessage", "hang")
        three = registry.push_image(repo_name, "v1", content="three")
        wait_for(lambda: current() == three, 10, "the second move being recorded")
        wait_for(lambda: "chat.postMessage" in slack.calls()[-1:], 10, "a delivery attempt")
        second.kill9()
        third = Process(config, tmp_path / "run-3.log")
        processes.append(third)
        third.wait_healthy(url)
        wait_for(lambda: len(slack.posts) == 2, 20, "the second alert after the restart")
        wait_for(lambda: depth() == 0, 10, "the outbox draining")
        time.sleep(1.0)
        assert len(slack.posts) == 2
        assert str(three) in str(slack.posts[1].blocks)
        assert third.terminate() in (0, -signal.SIGTERM)
        assert "stopped" in (tmp_path / "run-3.log").read_text()
        for log in tmp_path.glob("run-*.log"):
            text = log.read_text()
            assert VALID_TOKEN not in text and HOOK_SECRET not in text, f"a secret in {log}"
    finally:
        store.close()


def test_sigterm_stops_gracefully_and_releases_the_poll_lease(
    tmp_path: Path, pg_url: str, processes: list[Process]
) -> None:
    config = service_config(tmp_path, db=pg_url, watches=[])
    url = f"http://{yaml.safe_load(config.read_text())['listen']}"
    process = Process(config, tmp_path / "run.log")
    processes.append(process)
    process.wait_healthy(url)
    # uvicorn re-raises the signal once the app has shut down, as Unix convention asks.
    assert process.terminate() in (0, -signal.SIGTERM)
    log = (tmp_path / "run.log").read_text()
    assert "Application shutdown complete" in log and "stopped" in log
    store = Store.open(pg_url)
    try:
        with store.begin() as tx:
            assert tx.leases.acquire(
                "poll",
                holder="someone-else",
                now=__import__("datetime").datetime.now(__import__("datetime").UTC),
                ttl_seconds=5,
            )
    finally:
        store.close()
