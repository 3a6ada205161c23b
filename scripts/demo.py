"""Walk through tagwatch's main job on a local registry: watch, check, re-push, check, history."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.registry import TestRegistry


def tagwatch(*args: str, db: str) -> None:
    print(f"\n$ tagwatch {shlex.join(args)}", flush=True)
    env = {**os.environ, "TAGWATCH_DATABASE_URL": db}
    subprocess.run([sys.executable, "-m", "tagwatch", *args], check=False, env=env)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        registry = TestRegistry(Path(tmp))
        # A database of this run only: one kept in ./ would point at the last run's registry.
        db = f"sqlite:///{Path(tmp) / 'tagwatch.db'}"
        try:
            ref = f"{registry.host}/demo/app:prod"
            print(f"a registry is listening on {registry.url}; pushing {ref} (build 1)")
            registry.push_image(
                "demo/app",
                "prod",
                content="build 1",
                labels={"org.opencontainers.image.revision": "1111111aaaa"},
            )
            tagwatch("watch", "add", ref, "--label", "team=demo", db=db)
            tagwatch("check", db=db)
            print("\nCI re-pushes the same tag with new bytes (build 2)")
            registry.push_image(
                "demo/app",
                "prod",
                content="build 2",
                labels={"org.opencontainers.image.revision": "2222222bbbb"},
            )
            tagwatch("check", "-o", "json", db=db)
            tagwatch("history", ref, db=db)
            print("\nThat was the CLI; `bash scripts/quickstart` runs the service (tagwatch run).")
        finally:
            registry.close()


if __name__ == "__main__":
    main()
