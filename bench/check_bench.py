"""Benchmark `tagwatch check` over many tags on a loopback registry, next to skopeo and `ab`.

Run: uv run python bench/check_bench.py --tags 1000
Prints a Markdown table for bench/RESULTS.md. Needs docker-registry, skopeo and ab (apache2-utils).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagwatch.app.check import run_check
from tagwatch.core.digests import MANIFEST_ACCEPT
from tagwatch.core.references import ImageRef
from tagwatch.registry import RegistryClient
from tagwatch.store import Store
from tests.support.registry import TestRegistry

REPOS = 10


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one command, via /usr/bin/time."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return wall, int(proc.stderr.strip().splitlines()[-1])


def in_process(refs: list[ImageRef], db: str) -> tuple[float, float]:
    """A steady-state cycle as `tagwatch run` does it (process warm): seconds, requests per tag."""

    async def go() -> tuple[float, int]:
        store = Store.open(db)
        async with RegistryClient() as registry:
            await run_check(
                refs, registry=registry, store=store
            )  # connections open, as in a service
            sent_before = registry.requests_sent
            start = time.perf_counter()
            await run_check(refs, registry=registry, store=store)
            wall = time.perf_counter() - start
            store.close()
            return wall, registry.requests_sent - sent_before

    wall, sent = asyncio.run(go())
    return wall, sent / len(refs)


def skopeo_rate(refs: list[str], sample: int) -> float:
    start = time.perf_counter()
    for ref in refs[:sample]:
        subprocess.run(
            [
                "skopeo",
                "inspect",
                "--tls-verify=false",
                "--format",
                "{{.Digest}}",
                f"docker://{ref}",
            ],
            check=True,
            capture_output=True,
        )
    return sample / (time.perf_counter() - start)


def ab_rate(registry: TestRegistry, repo: str, tag: str) -> float:
    url = f"{registry.url}/v2/{repo}/manifests/{tag}"
    proc = subprocess.run(
        ["ab", "-q", "-i", "-k", "-c", "8", "-n", "5000", "-H", f"Accept: {MANIFEST_ACCEPT}", url],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Requests per second:\s+([\d.]+)", proc.stdout)
    if not match:
        raise SystemExit(f"cannot read ab's output:\n{proc.stdout}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--skopeo-sample", type=int, default=100)
    args = parser.parse_args()
    for tool in ("skopeo", "ab", "docker-registry"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")

    with tempfile.TemporaryDirectory() as tmp:
        registry = TestRegistry(Path(tmp) / "registry")
        try:
            digest = registry.push_image("bench/app0", "seed", content="bench")
            refs: list[str] = []
            for i in range(args.tags):
                repo = f"bench/app{i % REPOS}"
                if i < REPOS:
                    registry.push_image(repo, "seed", content="bench")
                registry.tag(repo, f"t{i:05d}", digest)
                refs.append(f"{registry.host}/{repo}:t{i:05d}")
            db = f"sqlite:///{Path(tmp) / 'bench.db'}"
            env = {**os.environ, "TAGWATCH_DATABASE_URL": db}
            # This sandbox sets PYTHONDONTWRITEBYTECODE, which makes every start compile the
            # package from source (~3 s); users' installs have bytecode, so measure with it.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            tagwatch = [sys.executable, "-m", "tagwatch"]
            subprocess.run(
                [*tagwatch, "watch", "add", *refs], env=env, check=True, capture_output=True
            )

            cold_wall, cold_rss = timed([*tagwatch, "check", "-o", "json"], env)
            warm_wall, warm_rss = timed([*tagwatch, "check", "-o", "json"], env)
            cycle, per_tag = in_process([ImageRef.parse(r) for r in refs], db)
            skopeo = skopeo_rate(refs, args.skopeo_sample)
            ab = ab_rate(registry, "bench/app0", "t00000")
        finally:
            registry.close()

    n = args.tags
    print(f"| measure ({n} tags, loopback docker-registry 2.8, 2 cores) | value |")
    print("|---|---|")
    print(
        f"| `tagwatch check`, first run (HEAD + manifest/config GET per new digest) | "
        f"{cold_wall:.2f} s, {n / cold_wall:.0f} tags/s, peak RSS {cold_rss / 1024:.0f} MiB |"
    )
    print(
        f"| `tagwatch check`, steady state (nothing moved) | "
        f"{warm_wall:.2f} s, {n / warm_wall:.0f} tags/s, peak RSS {warm_rss / 1024:.0f} MiB |"
    )
    print(
        f"| one steady-state cycle in a running process (`run_check`) | "
        f"{cycle:.2f} s, {n / cycle:.0f} tags/s |"
    )
    print(f"| requests per tag, steady state (client's own count) | {per_tag:.2f} |")
    print(f"| `skopeo inspect` loop ({args.skopeo_sample} tags) | {skopeo:.0f} tags/s |")
    print(f"| registry's raw HEAD rate (`ab -i -k -c 8 -n 5000`) | {ab:.0f} requests/s |")


if __name__ == "__main__":
    main()
