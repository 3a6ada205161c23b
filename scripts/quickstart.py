"""The quickstart: tagwatch's main job as a service, on this machine, in about twenty seconds.

A throwaway registry and a Slack stand-in start on free loopback ports; `tagwatch run` starts
with config/quickstart.yaml (pointed at them) on a fresh SQLite file; CI "re-pushes" a tag;
the move shows in the API, the web view, the Slack stand-in's log and `tagwatch history`.
Everything lives in a temporary directory, so it can run again and again.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.registry import TestRegistry  # noqa: E402
from tests.support.slack import VALID_TOKEN, FakeSlack  # noqa: E402

CONFIG = ROOT / "config" / "quickstart.yaml"
DEADLINE = 90.0  # seconds for the whole walk-through; each wait below fails loudly past it
T = TypeVar("T")


class QuickstartFailed(Exception):
    """A step did not happen in time; the message says which, the service log says why."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            body = reply.read()
            kind = reply.headers.get("content-type", "")
            return reply.status, json.loads(body) if "json" in kind else body.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


def _until(what: str, probe: Callable[[], T | None], started: float) -> T:
    while time.monotonic() - started < DEADLINE:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise QuickstartFailed(f"timed out waiting for {what}")


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _tagwatch(*args: str, cwd: Path) -> None:
    print(f"$ tagwatch {shlex.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "tagwatch", *args], cwd=cwd, check=False)


def configure(workdir: Path, *, registry: str, slack_api: str, listen: str) -> Path:
    """config/quickstart.yaml with its three loopback addresses pointed at this run's ports."""
    text = CONFIG.read_text()
    for placeholder, actual in (
        ("127.0.0.1:5000", registry),
        ("http://127.0.0.1:5001/api/", slack_api),
        ("127.0.0.1:8080", listen),
    ):
        if placeholder not in text:
            raise QuickstartFailed(f"{CONFIG} no longer names {placeholder}")
        text = text.replace(placeholder, actual)
    path = workdir / "tagwatch.yaml"
    path.write_text(text)
    return path


def walk_through(workdir: Path) -> None:
    started = time.monotonic()
    registry = TestRegistry(workdir / "registry")
    slack = FakeSlack()
    service: subprocess.Popen[bytes] | None = None
    log_path = workdir / "service.log"
    try:
        listen = f"127.0.0.1:{_free_port()}"
        base = f"http://{listen}"
        ref = f"{registry.host}/demo/app:prod"
        _step(f"a throwaway registry on {registry.url}; CI pushes {ref} (build 1)")
        registry.push_image(
            "demo/app", "prod", content="build 1",
            labels={"org.opencontainers.image.revision": "1111111aaaa"},
        )  # fmt: skip
        config = configure(workdir, registry=registry.host, slack_api=slack.api_url, listen=listen)
        _step(f"tagwatch run --config {config.name} (from config/quickstart.yaml)")
        env = {**os.environ, "QUICKSTART_SLACK_TOKEN": VALID_TOKEN}
        env.pop("TAGWATCH_CONFIG", None)
        env.pop("TAGWATCH_DATABASE_URL", None)  # the file names the database
        with log_path.open("wb") as log:
            service = subprocess.Popen(
                [sys.executable, "-m", "tagwatch", "run", "--config", str(config)],
                cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        _until("/readyz", lambda: _get(f"{base}/readyz")[0] == 200, started)
        print(f"the service answers on {base} (/healthz, /readyz, /metrics, /api/v1, /)")

        def moves() -> list[dict[str, Any]]:
            status, body = _get(f"{base}/api/v1/moves")
            return [m for m in body if m["ref"] == ref] if status == 200 and body else []

        first = _until("the first sighting in /api/v1/moves", moves, started)
        print(f"first poll recorded {ref} -> {first[-1]['to_digest']}")

        _step("CI re-pushes the same tag with new bytes (build 2)")
        new = registry.push_image(
            "demo/app", "prod", content="build 2",
            labels={"org.opencontainers.image.revision": "2222222bbbb"},
        )  # fmt: skip
        moved = _until(
            "the move in /api/v1/moves",
            lambda: [m for m in moves() if m["to_digest"] == str(new)],
            started,
        )
        _step(f"GET {base}/api/v1/moves: the move, as the API shows it")
        print(json.dumps(moved[-1], indent=2))

        status, page = _get(f"{base}/")
        if status == 200 and isinstance(page, str):
            shown = "shows the move" if str(new)[:19] in page else "is up"
            _step(f"the web view at {base}/ {shown}")

        posts = _until("the alert in the Slack stand-in", lambda: slack.posts, started)
        _step("the Slack stand-in's log: what the team would read")
        for post in posts:
            print(f"channel {post.channel}: {post.text}")

        _step("the CLI reads the same file, so the same database")
        _tagwatch("history", ref, "--config", str(config), cwd=workdir)
        _tagwatch("watch", "list", "--config", str(config), cwd=workdir)
        print(f"\ndone in {time.monotonic() - started:.0f} s; against your registries:")
        print("  tagwatch run --config tagwatch.yaml   (every key: config/tagwatch.example.yaml)")
    except QuickstartFailed:
        if log_path.exists():
            print("\n-- service log --\n" + log_path.read_text(errors="replace"), file=sys.stderr)
        raise
    finally:
        if service is not None and service.poll() is None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=15)
            except subprocess.TimeoutExpired:
                service.kill()
                service.wait()
        slack.close()
        registry.close()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="tagwatch-quickstart-") as tmp:
        try:
            walk_through(Path(tmp))
        except QuickstartFailed as exc:
            print(f"quickstart failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
