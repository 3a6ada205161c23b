"""Walk through tagwatch's main job on a local registry: watch, check, re-push, check, history."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.registry import TestRegistry


def tagwatch(*args: str) -> None:
    print(f"\n$ tagwatch {shlex.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "tagwatch", *args], check=False)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        registry = TestRegistry(Path(tmp))
        try:
            ref = f"{registry.host}/demo/app:prod"
            print(f"a registry is listening on {registry.url}; pushing {ref} (build 1)")
            registry.push_image(
                "demo/app",
                "prod",
                content="build 1",
                labels={"org.opencontainers.image.revision": "1111111aaaa"},
            )
            tagwatch("watch", "add", ref, "--label", "team=demo")
            tagwatch("check")
            print("\nCI re-pushes the same tag with new bytes (build 2)")
            registry.push_image(
                "demo/app",
                "prod",
                content="build 2",
                labels={"org.opencontainers.image.revision": "2222222bbbb"},
            )
            tagwatch("check", "-o", "json")
            tagwatch("history", ref)
            print("\nThe history is in ./tagwatch.db (SQLite): `uv run tagwatch history -o json`.")
        finally:
            registry.close()


if __name__ == "__main__":
    main()
