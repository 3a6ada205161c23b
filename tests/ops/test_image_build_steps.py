"""The Dockerfile's build stage, run here step by step: what the image would hold works.

This machine has Docker's client but no engine, and cannot pull the base images, so the image
itself is never built in the tests. What can go wrong in it is tagwatch's part: a file the
build does not COPY, a dependency only the dev environment brings, migrations left out of the
installed package. So the build stage's own COPY, ENV and RUN lines are read from the Dockerfile
and run in a scratch directory with this machine's uv and Python, and the resulting virtualenv
is used the way the image's ENTRYPOINT uses it, from another directory.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The part of .dockerignore that applies inside the copied directories (`**/__pycache__`).
_NOT_IN_CONTEXT = shutil.ignore_patterns("__pycache__")


@dataclass
class BuildStage:
    """The first stage of a Dockerfile, as far as running it outside Docker needs."""

    env: dict[str, str] = field(default_factory=dict)
    #: (source paths in the build context, destination) of each COPY without --from.
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    workdir: str = "/"
    entrypoint: list[str] = field(default_factory=list)


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each line, continuations joined, comments dropped."""
    joined = text.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _build_stage(dockerfile: Path) -> BuildStage:
    stage, stages = BuildStage(), 0
    for keyword, rest in _instructions(dockerfile.read_text()):
        if keyword == "FROM":
            stages += 1
        elif keyword == "ENTRYPOINT":
            stage.entrypoint = json.loads(rest)
        elif stages != 1:
            continue
        elif keyword == "ENV":
            stage.env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
        elif keyword == "WORKDIR":
            stage.workdir = rest
        elif keyword == "COPY" and not rest.startswith("--from"):
            *sources, destination = shlex.split(rest)
            stage.copies.append((sources, destination))
        elif keyword == "RUN":
            stage.runs.append(rest)
    return stage


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The virtualenv the image's build stage makes, built here from only what it copies."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not on PATH (python3 -m pip install uv)")
    stage = _build_stage(ROOT / "Dockerfile")
    scratch = tmp_path_factory.mktemp("image")
    src = scratch / stage.workdir.lstrip("/")
    src.mkdir(parents=True)
    for sources, destination in stage.copies:
        target = src / destination
        for source in sources:
            origin = ROOT / source
            if origin.is_dir():  # COPY puts a directory's contents at the destination
                shutil.copytree(origin, target, dirs_exist_ok=True, ignore=_NOT_IN_CONTEXT)
            elif destination.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)
            else:
                shutil.copy2(origin, target)
    venv = scratch / stage.env["UV_PROJECT_ENVIRONMENT"].lstrip("/")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    env |= stage.env | {"UV_PROJECT_ENVIRONMENT": str(venv)}
    for command in stage.runs:
        done = subprocess.run(
            ["bash", "-c", command], cwd=src, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"RUN {command}: {done.stderr[-2000:]}"
    return venv


def _run_image(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "TAGWATCH_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [str(venv / "bin" / "tagwatch"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_the_build_stage_copies_what_the_package_needs() -> None:
    stage = _build_stage(ROOT / "Dockerfile")
    copied = {source for sources, _ in stage.copies for source in sources}
    assert {"pyproject.toml", "uv.lock", "tagwatch", "migrations"} <= copied
    assert stage.entrypoint == ["tagwatch", "run"]


def test_the_image_venv_holds_tagwatch_itself_not_a_link_to_the_source(
    image_venv: Path, tmp_path: Path
) -> None:
    python = image_venv / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import tagwatch, sys; print(tagwatch.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(image_venv), where


def test_the_image_venv_has_no_development_tools(image_venv: Path) -> None:
    site = next((image_venv / "lib").glob("python3*/site-packages"))
    for dev_only in ("pytest", "hypothesis", "mypy", "ruff"):
        assert not (site / dev_only).exists(), f"{dev_only} would ship in the image"


def test_the_image_migrates_a_database_from_its_own_copy_of_the_migrations(
    image_venv: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'tagwatch.db'}"
    upgraded = _run_image(image_venv, tmp_path, "db", "upgrade", "--db", db)
    assert upgraded.returncode == 0, upgraded.stderr
    listed = _run_image(image_venv, tmp_path, "watch", "list", "--db", db, "-o", "json")
    assert (listed.returncode, listed.stdout.strip()) == (0, "[]"), listed.stderr


def test_the_image_entrypoint_answers_help(image_venv: Path, tmp_path: Path) -> None:
    helped = _run_image(image_venv, tmp_path, "run", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "tagwatch run" in helped.stdout
