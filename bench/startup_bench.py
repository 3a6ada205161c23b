"""Benchmark CLI start-up: `tagwatch --help` and `tagwatch watch list`, next to the import floors.

Run: uv run python bench/startup_bench.py --runs 20
     (`--tagwatch /other/checkout/.venv/bin/tagwatch` times another checkout, e.g. main;
      `--postgres postgresql://postgres@127.0.0.1/tagwatch_bench` adds `watch list` on a
      PostgreSQL database it may add two watches to)
Prints a Markdown table for bench/RESULTS.md. Bytecode is compiled first, as an installed wheel
has it. CPU seconds (user + system of the child) are the steadier figure on a shared machine;
wall is what a user waits.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP = "import typer.rich_utils"


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run of `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]!r}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--tagwatch", default=str(Path(sys.executable).parent / "tagwatch"))
    parser.add_argument("--postgres", help="also time `watch list --db URL` on this database")
    args = parser.parse_args()
    tagwatch = Path(args.tagwatch)
    python = str(tagwatch.parent / "python")
    package = subprocess.run(
        [python, "-c", "import tagwatch, os; print(os.path.dirname(tagwatch.__file__))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    compileall.compile_dir(package, quiet=1)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = f"sqlite:///{work / 'tagwatch.db'}"
        env = {**os.environ, "TAGWATCH_DATABASE_URL": db, "COLUMNS": "100"}
        env.pop("TAGWATCH_CONFIG", None)
        # An up-to-date database with a few watches: the usual `watch list`, no migration.
        subprocess.run(
            [str(tagwatch), "watch", "add", "nginx:1.27", "ghcr.io/org/app:prod"],
            env=env, cwd=work, capture_output=True, check=True,
        )  # fmt: skip
        cases: dict[str, list[str]] = {
            "`python -c pass` (interpreter)": [python, "-c", "pass"],
            "`import typer.rich_utils` (Typer's help: the floor of `--help`)": [python, "-c", HELP],
            "`import sqlalchemy.orm` (the store's floor)": [python, "-c", "import sqlalchemy.orm"],
            "`tagwatch --help`": [str(tagwatch), "--help"],
            "`tagwatch watch list`": [str(tagwatch), "watch", "list"],
        }
        if args.postgres:
            pg = ["--db", args.postgres]
            subprocess.run(
                [str(tagwatch), "watch", "add", "nginx:1.27", "ghcr.io/org/app:prod", *pg],
                env=env, cwd=work, capture_output=True, check=True,
            )  # fmt: skip
            cases["`tagwatch watch list` (PostgreSQL)"] = [str(tagwatch), "watch", "list", *pg]
        rows = []
        for name, cmd in cases.items():
            timed(cmd, env, work)  # warm the page cache
            runs = [timed(cmd, env, work) for _ in range(args.runs)]
            walls, cpus = zip(*runs, strict=True)
            rows.append(
                f"| {name} | {statistics.median(walls):.3f} s | {min(walls):.3f} s "
                f"| {statistics.median(cpus):.3f} s |"
            )
    print(f"{args.runs} runs each; load average {os.getloadavg()[0]:.2f} at the end\n")
    print("| command | wall (median) | wall (best) | CPU (median) |")
    print("|---|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
