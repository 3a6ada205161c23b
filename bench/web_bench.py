"""Benchmark the pages and the API at 10,000 tags and 1,000,000 sightings, SQLite and PostgreSQL.

Run: uv run python bench/web_bench.py [--tags 10000] [--per-tag 100] [--requests 200]
     [--backend sqlite|postgresql|both]
Prints JSON; the numbers go in bench/RESULTS.md (web section). PostgreSQL is the server the
tests use (TAGWATCH_TEST_POSTGRES_URL); a database is created and dropped.

- load: bulk insert of watches, sightings and some builds (executemany in batches), then ANALYZE.
- first feed page (`GET /`, newest 50 moves), a tag's timeline (`GET /tags/<ref>` of a random
  tag), and the API's first page (`GET /api/v1/moves?order=newest&limit=50`): p50/p99 over
  `--requests` requests each, over HTTP to uvicorn on loopback; side by side with the SQL the
  feed and the timeline send, run `--requests` times through `sqlite3`/`psql` (their own timers),
  the floor.
- `tagwatch history -o json` of everything in a subprocess under /usr/bin/time: wall and peak
  RSS, output bytes and moves counted.
- the API paged through all moves (`limit=1000`, following X-Next-Cursor): wall, pages, moves,
  and the peak RSS of this process (server and client) while paging.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, event, insert, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tagwatch.app.service import build_service
from tagwatch.app.settings import load_settings
from tagwatch.store import Store
from tagwatch.store.engine import upgrade
from tagwatch.store.models import BuildRow, WatchRow
from tagwatch.web import create_app
from tests.pages.browser import serving
from tests.store.databases import PG_ADMIN_URL, create_pg_database, drop_pg_database
from tests.support.services import service_config

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
REGISTRIES = ("ghcr.io", "quay.io", "registry.example.com")


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("-".join(map(str, parts)).encode()).hexdigest()


def _tag(i: int) -> tuple[str, str, str]:
    return (REGISTRIES[i % 3], f"org{i % 100}/app{i}", "prod")


def _sightings(tags: int, per_tag: int) -> Iterator[tuple[Any, ...]]:
    """Each tag moves every hour; every 10th move repoints to an older digest, every 25th
    deletes the tag (restored at the next). Tags interleave in time. Rows as the columns of
    SIGHTING_COLUMNS."""
    for seq in range(1, per_tag + 1):
        for i in range(tags):
            host, repository, tag = _tag(i)
            if seq % 25 == 0:
                digest = None
            elif seq % 10 == 0 and seq > 2:
                digest = _digest(i, seq - 2)
            else:
                digest = _digest(i, seq)
            first = T0 + timedelta(hours=seq, seconds=i * 0.3)
            source = "webhook" if i % 7 == 0 else "poll"
            yield (host, repository, tag, seq, digest, first, first + timedelta(minutes=50), source)


SIGHTING_COLUMNS = (
    "registry",
    "repository",
    "tag",
    "seq",
    "digest",
    "first_seen",
    "last_seen",
    "source",
)


def _sqlite_time(when: datetime) -> str:
    # How UTCDateTime stores a time in SQLite: naive UTC, fixed width.
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _bulk_sightings(url: str, rows: Iterator[tuple[Any, ...]]) -> None:
    """A million rows in well under a minute: sqlite3's executemany, or PostgreSQL's COPY."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database or "")
        try:
            connection.execute("PRAGMA synchronous=OFF")
            placeholders = ", ".join("?" for _ in SIGHTING_COLUMNS)
            connection.executemany(
                f"INSERT INTO sightings ({', '.join(SIGHTING_COLUMNS)}) VALUES ({placeholders})",
                ((*r[:5], _sqlite_time(r[5]), _sqlite_time(r[6]), r[7]) for r in rows),
            )
            connection.commit()
        finally:
            connection.close()
        return
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    copy_sql = f"COPY sightings ({', '.join(SIGHTING_COLUMNS)}) FROM STDIN"
    with (
        psycopg.connect(plain) as connection,
        connection.cursor() as cursor,
        cursor.copy(copy_sql) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def load(url: str, tags: int, per_tag: int) -> dict[str, Any]:
    upgrade(url)  # a kept database may predate a migration
    store = Store.open(url)
    with store.begin() as tx:
        known = len(tx.audit.tags_page(limit=1)[0])
    if known:
        store.close()
        return {"load_seconds": None, "sightings": tags * per_tag, "tags": tags, "reused": True}
    started = time.perf_counter()
    with store.engine.begin() as connection:
        connection.execute(
            insert(WatchRow.__table__),
            [
                {
                    "registry": h,
                    "repository": r,
                    "tag": t,
                    "interval_seconds": None,
                    "labels": {"team": f"team{i % 20}"},
                    "added_at": T0,
                }
                for i, (h, r, t) in enumerate(_tag(i) for i in range(tags))
            ],
        )
        connection.execute(
            insert(BuildRow.__table__),
            [
                {
                    "digest": _digest(i, seq),
                    "media_type": "application/vnd.oci.image.manifest.v1+json",
                    "labels": {"org.opencontainers.image.revision": f"r{i}-{seq}"},
                    "recorded_at": T0,
                }
                for i in range(tags)
                for seq in range(per_tag - 3, per_tag + 1)
                if seq % 25 and not (seq % 10 == 0 and seq > 2)
            ],
        )
    store.close()
    _bulk_sightings(url, _sightings(tags, per_tag))
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    engine.dispose()
    seconds = time.perf_counter() - started
    return {"load_seconds": round(seconds, 1), "sightings": tags * per_tag, "tags": tags}


def _quantiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
    }


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        value = value.isoformat(sep=" ")
    return "'" + str(value).replace("'", "''") + "'"


def _render(statement: str, parameters: Any, dialect: str) -> str:
    """The SQL a request sent, with its parameters written in (for the CLI floor)."""
    if dialect == "sqlite":
        values = iter(parameters)
        return re.sub(r"\?", lambda _m: _literal(next(values)), statement)
    return re.sub(r"%\((\w+)\)s", lambda m: _literal(parameters[m.group(1)]), statement)


def _captured(app: Any, client: httpx.Client, path: str) -> list[str]:
    engine = app.state.service.store.engine
    seen: list[str] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _m: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(_render(statement, parameters, engine.dialect.name))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        client.get(path).raise_for_status()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return seen


def _cli_floor(url: str, queries: list[str], runs: int) -> dict[str, float]:
    """Each run of `queries` timed by the database CLI itself (no Python, no HTTP)."""
    script = "".join(q.rstrip(";") + ";\n" for _ in range(runs) for q in queries)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        out = subprocess.run(
            ["sqlite3", parsed.database or ""],
            input=".timer on\n.output /dev/null\n" + script,
            capture_output=True,
            text=True,
            check=True,
        )
        times = [float(m) for m in re.findall(r"Run Time: real ([0-9.]+)", out.stdout + out.stderr)]
    else:
        env = dict(os.environ, PGPASSWORD=parsed.password or "")
        out = subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-h",
                parsed.host or "127.0.0.1",
                "-p",
                str(parsed.port or 5432),
                "-U",
                parsed.username or "postgres",
                "-d",
                parsed.database or "",
                "-o",
                "/dev/null",
            ],
            input="\\timing on\n" + script,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        times = [float(m) / 1000 for m in re.findall(r"Time: ([0-9.]+) ms", out.stdout)]
    per_run = [sum(times[i : i + len(queries)]) for i in range(0, len(times), len(queries))]
    return _quantiles(per_run)


def _peak_rss() -> float:
    """This process's peak resident set since the last reset, in MiB (Linux VmHWM)."""
    status = Path("/proc/self/status").read_text()
    kib = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    return round(kib / 1024, 1)


def _reset_peak_rss() -> float:
    """Start counting the peak anew (writing 5 to clear_refs resets VmHWM); the RSS now."""
    Path("/proc/self/clear_refs").write_text("5")
    return _peak_rss()


def measure(
    url: str, tags: int, requests: int, workdir: Path, *, pages_only: bool = False
) -> dict[str, Any]:
    settings = load_settings(service_config(workdir, db=url, watches=[], webhooks={}))
    service = build_service(settings)
    app = create_app(service, lifecycle=False)
    rng = random.Random(7)
    result: dict[str, Any] = {}
    with serving(app) as base, httpx.Client(base_url=base, timeout=600) as client:
        targets = {
            "feed_first_page": lambda: "/",
            "tag_timeline": lambda: "/tags/{}/{}:{}".format(*_tag(rng.randrange(tags))),
            "api_moves_first_page": lambda: "/api/v1/moves?order=newest&limit=50",
        }
        for name, path in targets.items():
            client.get(path()).raise_for_status()  # warm
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                client.get(path()).raise_for_status()
                samples.append(time.perf_counter() - started)
            result[name] = _quantiles(samples)
            print(json.dumps({name: result[name]}), file=sys.stderr, flush=True)
        result["feed_sql_floor"] = _cli_floor(url, _captured(app, client, "/"), requests)
        timeline = "/tags/{}/{}:{}".format(*_tag(tags // 2))
        result["timeline_sql_floor"] = _cli_floor(url, _captured(app, client, timeline), requests)
        for name in ("feed_sql_floor", "timeline_sql_floor"):
            print(json.dumps({name: result[name]}), file=sys.stderr, flush=True)

        if pages_only:
            service.store.close()
            return result
        rss_before = _reset_peak_rss()
        started = time.perf_counter()
        pages = moves = 0
        cursor: str | None = None
        while True:
            params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
            answer = client.get("/api/v1/moves", params=params)
            answer.raise_for_status()
            moves += len(answer.json())
            pages += 1
            cursor = answer.headers.get("x-next-cursor")
            if cursor is None:
                break
        result["api_all_moves"] = {
            "seconds": round(time.perf_counter() - started, 1),
            "pages": pages,
            "moves": moves,
            # server (uvicorn in a thread) and client together, in this process
            "rss_before_mib": rss_before,
            "peak_rss_mib": _peak_rss(),
        }
        print(json.dumps({"api_all_moves": result["api_all_moves"]}), file=sys.stderr, flush=True)
    service.store.close()
    result["history_json"] = history_json(url)
    print(json.dumps({"history_json": result["history_json"]}), file=sys.stderr, flush=True)
    return result


def history_json(url: str) -> dict[str, Any]:
    """`tagwatch history -o json` of everything: wall, peak RSS, bytes, moves."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.perf_counter()
        run = subprocess.run(
            [
                "/usr/bin/time",
                "-v",
                sys.executable,
                "-m",
                "tagwatch",
                "history",
                "-o",
                "json",
                "--db",
                url,
            ],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            cwd=ROOT,
        )
        wall = time.perf_counter() - started
        if run.returncode != 0:
            lines = run.stderr.strip().splitlines()
            return {"failed": run.returncode, "stderr": lines[:5], "seconds": round(wall, 1)}
        rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))  # type: ignore[union-attr]
        size = os.path.getsize(out.name)
        with open(out.name, "rb") as handle:
            moves = sum(1 for line in handle if line.startswith(b'    "ref": '))
    return {
        "seconds": round(wall, 1),
        "peak_rss_mib": round(rss_kb / 1024, 1),
        "output_mib": round(size / 2**20, 1),
        "moves": moves,
    }


def kept_pg_database(name: str) -> str:
    """The URL of database `name` on the tests' server, created when it does not exist."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if found is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--per-tag", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--sqlite-file",
        type=Path,
        help="keep the SQLite database here (loaded once, reused by later runs)",
    )
    parser.add_argument(
        "--pg-database",
        help="keep the PostgreSQL database of this name (created when missing, loaded once, "
        "reused by later runs) instead of a throwaway one",
    )
    parser.add_argument(
        "--pages-only",
        action="store_true",
        help="only the page latencies and their SQL floor (skip the walks through everything)",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        for backend in backends:
            if backend == "sqlite":
                url = f"sqlite:///{args.sqlite_file or workdir / 'bench.db'}"
            elif args.pg_database:
                url = kept_pg_database(args.pg_database)
            else:
                url = create_pg_database("tagwatch_bench")
            try:
                results[backend] = load(url, args.tags, args.per_tag)
                print(json.dumps({backend: results[backend]}), file=sys.stderr)
                results[backend] |= measure(
                    url, args.tags, args.requests, workdir, pages_only=args.pages_only
                )
                print(json.dumps({backend: results[backend]}), file=sys.stderr)
            finally:
                if backend == "postgresql" and not args.pg_database:
                    drop_pg_database(url)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
