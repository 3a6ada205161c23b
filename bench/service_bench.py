"""Benchmark `tagwatch run`: push-to-Slack latency (webhook, polling), 10,000 watches per interval.

Run: uv run python bench/service_bench.py [--watches 10000] [--interval 60] [--pushes 20]
Prints JSON; the numbers go in bench/RESULTS.md (service section). Needs docker-registry.

- webhook latency: a registry sends its push notifications to the service; time from the
  start of the push to the fake Slack receiving the alert.
- polling latency: the same with webhooks off, watch interval `--poll-interval`.
- CLI-recorded latency: the service watches nothing; `tagwatch check --db` (another process,
  no Slack settings) records each move in the service's database; time from that process's
  exit (the move committed) to the Slack message, against the delivery interval.
- 10,000 watches: `tagwatch run` as a subprocess polling `--watches` tags on a loopback
  registry every `--interval` seconds; after one warm-up cycle, measured over one interval:
  CPU share (utime+stime / wall, of one core), peak RSS (VmHWM), registry requests per tag
  per cycle and cycles completed (checks / watches).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagwatch.app.settings import load_settings
from tests.support.registry import TestRegistry
from tests.support.services import running
from tests.support.slack import VALID_TOKEN, FakeSlack

SECRET = "bench-hook-secret"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_config(
    db: str, listen: str, slack: FakeSlack, watches: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "database_url": db,
        "listen": listen,
        "watches": watches,
        "slack": {
            "bot_token_env": "BENCH_SLACK",
            "base_url": slack.api_url,
            "default_channel": "C-ALERTS",
        },
        "webhooks": {"distribution": {"secret_env": "BENCH_HOOK"}},
        "scheduler": {"tick": "100ms", "delivery_interval": "1s", "jitter": 0.1},
        "log": {"format": "text", "level": os.environ.get("BENCH_LOG", "WARNING")},
    }


async def latency(
    workdir: Path, *, webhook: bool, pushes: int, poll_interval: float
) -> list[float]:
    """Seconds from push to Slack, `pushes` times."""
    os.environ["BENCH_SLACK"] = VALID_TOKEN
    os.environ["BENCH_HOOK"] = SECRET
    port = free_port()
    notifications = (
        [
            {
                "name": "tagwatch",
                "url": f"http://127.0.0.1:{port}/webhooks/distribution",
                "headers": {"Authorization": [f"Bearer {SECRET}"]},
                "timeout": "2s",
                "threshold": 3,
                "backoff": "1s",
            }
        ]
        if webhook
        else None
    )
    kind = "webhook" if webhook else "poll"
    registry = TestRegistry(workdir / f"registry-{kind}", notifications=notifications)
    slack = FakeSlack()
    try:
        repo = f"bench/{kind}"
        registry.push_image(repo, "v1", content="0")
        interval = 3600 if webhook else poll_interval
        data = base_config(
            f"sqlite:///{workdir / f'{kind}.db'}",
            f"127.0.0.1:{port}",
            slack,
            [{"ref": f"{registry.host}/{repo}:v1", "interval": interval}],
        )
        path = workdir / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(data))
        settings = load_settings(path)
        out: list[float] = []
        async with running(settings, http=True) as svc:
            from tagwatch.core.references import ImageRef

            first = svc.service.trigger(ImageRef.parse(f"{registry.host}/{repo}:v1"))
            if first is not None:
                await first
            for n in range(1, pushes + 1):
                await asyncio.sleep(0.5 + (n * 0.37) % 1.0)  # land at varied points of the interval
                start = time.perf_counter()
                await asyncio.to_thread(registry.push_image, repo, "v1", content=str(n))
                while len(slack.posts) < n:
                    await asyncio.sleep(0.005)
                    if time.perf_counter() - start > interval * 2 + 30:
                        raise SystemExit(f"{kind}: alert {n} never arrived")
                out.append(time.perf_counter() - start)
        return out
    finally:
        slack.close()
        registry.close()


async def cli_latency(workdir: Path, *, pushes: int, delivery_interval: float) -> list[float]:
    """Seconds from a `tagwatch check` process recording a move to its Slack message."""
    os.environ["BENCH_SLACK"] = VALID_TOKEN
    os.environ["BENCH_HOOK"] = SECRET
    registry = TestRegistry(workdir / "registry-cli")
    slack = FakeSlack()
    try:
        repo = "bench/cli"
        registry.push_image(repo, "v1", content="0")
        db = f"sqlite:///{workdir / 'cli.db'}"
        data = base_config(db, f"127.0.0.1:{free_port()}", slack, [])
        data["scheduler"]["delivery_interval"] = delivery_interval
        path = workdir / "cli.yaml"
        path.write_text(yaml.safe_dump(data))
        ref = f"{registry.host}/{repo}:v1"
        check = [sys.executable, "-m", "tagwatch", "check", ref, "--db", db]

        def run_check() -> None:
            # Output to DEVNULL: nobody reads a pipe here, and a full one would block the child.
            subprocess.run(
                check,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
                timeout=120,
            )

        def recorded_at() -> float:
            # When the CLI recorded the move (its event's time, UTC), read from the database.
            with sqlite3.connect(workdir / "cli.db") as conn:
                (raw,) = conn.execute("SELECT max(recorded_at) FROM move_events").fetchone()
            return datetime.fromisoformat(raw).replace(tzinfo=UTC).timestamp()

        out: list[float] = []
        async with running(load_settings(path)):
            await asyncio.to_thread(run_check)  # first sighting: no alert
            for n in range(1, pushes + 1):
                await asyncio.sleep(0.3 + (n * 0.37) % 1.0)  # land at varied points of the tick
                await asyncio.to_thread(registry.push_image, repo, "v1", content=str(n))
                # The message may arrive before the CLI process has even exited: watch Slack
                # while it runs, and measure from the move's commit, not the process's exit.
                checking = asyncio.create_task(asyncio.to_thread(run_check))
                started = time.time()
                while len(slack.posts) < n:
                    await asyncio.sleep(0.005)
                    if time.time() - started > delivery_interval * 2 + 120:
                        raise SystemExit(f"cli: alert {n} never arrived")
                arrived = time.time()
                await checking
                out.append(arrived - recorded_at())
        return out
    finally:
        slack.close()
        registry.close()


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_hwm_mib(pid: int) -> float:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def many_watches(workdir: Path, *, watches: int, interval: float) -> dict[str, Any]:
    registry = TestRegistry(workdir / "registry-many")
    slack = FakeSlack()
    proc: subprocess.Popen[bytes] | None = None
    try:
        repos = 20
        tags: list[str] = []
        setup = time.perf_counter()
        for r in range(repos):
            repo = f"bench/many-{r}"
            digest = registry.push_image(repo, "seed", content=f"repo-{r}")
            for i in range(watches // repos):
                registry.tag(repo, f"t{i}", digest)
                tags.append(f"{registry.host}/{repo}:t{i}")
        setup = time.perf_counter() - setup
        say(f"pushed {len(tags)} tags in {setup:.0f} s")
        port = free_port()
        data = base_config(
            f"sqlite:///{workdir / 'many.db'}",
            f"127.0.0.1:{port}",
            slack,
            [{"ref": t} for t in tags],
        )
        data["scheduler"] |= {"default_interval": interval, "batch_size": 2000}
        data["registries"] = {
            registry.host: {"budget": {"requests": 1_000_000, "per": "1h", "concurrency": 8}}
        }
        path = workdir / "many.yaml"
        path.write_text(yaml.safe_dump(data))
        env = os.environ | {"BENCH_SLACK": VALID_TOKEN, "BENCH_HOOK": SECRET}
        log = (workdir / "many.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tagwatch", "run", "--config", str(path)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit(
                    "tagwatch run did not start: " + (workdir / "many.log").read_text()[-2000:]
                )
            time.sleep(0.2)
        say("service up; warm-up cycle")
        # Warm-up: the first cycle records a first sighting of every tag.
        while metric(httpx.get(f"{url}/metrics").text, "tagwatch_checks_total") < watches:
            time.sleep(1)
        say("measuring one interval")
        before = httpx.get(f"{url}/metrics").text
        cpu0, wall0 = proc_cpu(proc.pid), time.monotonic()
        time.sleep(interval)
        after = httpx.get(f"{url}/metrics").text
        cpu1, wall1 = proc_cpu(proc.pid), time.monotonic()
        checks = metric(after, "tagwatch_checks_total") - metric(before, "tagwatch_checks_total")
        requests = metric(after, "tagwatch_registry_requests_sent") - metric(
            before, "tagwatch_registry_requests_sent"
        )
        errors = metric(after, "tagwatch_check_errors_total") - metric(
            before, "tagwatch_check_errors_total"
        )
        return {
            "watches": watches,
            "interval_s": interval,
            "setup_push_s": round(setup, 1),
            "cpu_share_of_one_core": round((cpu1 - cpu0) / (wall1 - wall0), 3),
            "peak_rss_mib": round(proc_hwm_mib(proc.pid), 1),
            "checks_in_interval": int(checks),
            "cycles_in_interval": round(checks / watches, 3),
            "requests_per_tag_per_cycle": round(requests / checks, 3) if checks else None,
            "errors": int(errors),
        }
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        slack.close()
        registry.close()


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "samples": len(values),
        "median_s": round(statistics.median(values), 3),
        "max_s": round(max(values), 3),
        "min_s": round(min(values), 3),
    }


def main() -> None:
    faulthandler.register(signal.SIGUSR1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watches", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--poll-interval", type=float, default=5.0)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-watches", action="store_true", help="skip the many-watches run")
    parser.add_argument("--cli-pushes", type=int, default=10)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tagwatch-bench-") as tmp:
        workdir = Path(tmp)
        if not args.skip_latency:
            say("webhook latency")
            hook = asyncio.run(latency(workdir, webhook=True, pushes=args.pushes, poll_interval=0))
            results["webhook_push_to_slack"] = summary(hook)
            say("polling latency")
            poll = asyncio.run(
                latency(
                    workdir, webhook=False, pushes=args.pushes, poll_interval=args.poll_interval
                )
            )
            results["poll_push_to_slack"] = summary(poll) | {"interval_s": args.poll_interval}
            say("CLI-recorded move latency")
            cli = asyncio.run(cli_latency(workdir, pushes=args.cli_pushes, delivery_interval=1.0))
            results["cli_recorded_to_slack"] = summary(cli) | {"delivery_interval_s": 1.0}
        if not args.skip_watches:
            say(f"{args.watches} watches")
            results["many_watches"] = many_watches(
                workdir, watches=args.watches, interval=args.interval
            )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
