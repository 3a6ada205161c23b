"""Start-up: the CLI imports a command's adapters only when that command runs.

No timings here (bench/startup_bench.py has them): what is imported is checked instead, in a
fresh interpreter, so a module-level `import httpx` that slips back in fails a test.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from tagwatch.cli.main import COMMANDS, app

#: What `import tagwatch.cli.main` must not pull in: each costs the start of every command.
ADAPTER_LIBRARIES = ("sqlalchemy", "httpx", "httpx2", "lightkube", "boto3", "slack_sdk", "fastapi")


def _probe(code: str, *, cwd: Path, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """Top-level packages in sys.modules after running `code` in a fresh interpreter, and what
    `code` printed."""
    probe = (
        code
        + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    *printed, modules = proc.stdout.strip().splitlines()
    return set(json.loads(modules)), "\n".join(printed)


def _imported_by(code: str, *, cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    return _probe(code, cwd=cwd, env=env)[0]


def test_importing_the_cli_imports_no_adapter_library(tmp_path: Path) -> None:
    imported = _imported_by("import tagwatch.cli.main", cwd=tmp_path)
    assert "typer" in imported  # the probe sees what was imported
    assert imported.isdisjoint(ADAPTER_LIBRARIES), imported & set(ADAPTER_LIBRARIES)


def test_top_level_help_imports_no_command_module(tmp_path: Path) -> None:
    run_help = (
        "import sys\nfrom tagwatch.cli.main import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert not [m for m in sys.modules if m.startswith('tagwatch.cli.') and m not in "
        "('tagwatch.cli.main', 'tagwatch.cli.lazy', 'tagwatch.cli.flags')], sorted(sys.modules)"
    )
    imported = _imported_by(run_help, cwd=tmp_path)
    assert imported.isdisjoint(ADAPTER_LIBRARIES), imported & set(ADAPTER_LIBRARIES)


def _watch_list_imports(tmp_path: Path, db: str) -> tuple[set[str], str]:
    """What `tagwatch watch list -o json --db DB` imports, and what it prints."""
    listing = (
        "from tagwatch.cli.main import app\n"
        f"try:\n    app(['watch', 'list', '-o', 'json', '--db', {db!r}])\nexcept SystemExit:\n"
        "    pass\n"
    )
    return _probe(listing, cwd=tmp_path, env={"TAGWATCH_CONFIG": ""})


_NOT_FOR_WATCH_LIST = {"httpx", "httpx2", "lightkube", "boto3", "botocore", "slack_sdk", "fastapi"}
_NOT_FOR_WATCH_LIST |= {"alembic", "cryptography", "sigstore", "uvicorn", "apscheduler", "jinja2"}


def test_watch_list_on_an_up_to_date_sqlite_file_imports_no_adapter_library(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'tagwatch.db'}"
    subprocess.run(
        [sys.executable, "-m", "tagwatch", "watch", "add", "nginx:1.27", "--db", db],
        cwd=tmp_path, capture_output=True, check=True,
    )  # fmt: skip
    imported, printed = _watch_list_imports(tmp_path, db)
    assert [w["ref"] for w in json.loads(printed)] == ["docker.io/library/nginx:1.27"]
    unwanted = _NOT_FOR_WATCH_LIST | {"sqlalchemy", "psycopg"}
    assert imported.isdisjoint(unwanted), imported & unwanted


def test_watch_list_on_a_new_database_opens_the_store_and_nothing_else(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'new.db'}"
    imported, printed = _watch_list_imports(tmp_path, db)
    assert json.loads(printed) == []
    assert "sqlalchemy" in imported  # the Store created and migrated the file
    assert (tmp_path / "new.db").is_file()
    assert imported.isdisjoint(_NOT_FOR_WATCH_LIST - {"alembic"}), imported & _NOT_FOR_WATCH_LIST


def test_importing_the_store_package_imports_no_sqlalchemy(tmp_path: Path) -> None:
    imported = _imported_by("import tagwatch.store", cwd=tmp_path)
    assert "tagwatch" in imported
    assert "sqlalchemy" not in imported


def _first_paragraph(help_text: str) -> str:
    # What `tagwatch --help` shows of a command: Typer's first paragraph, lines joined.
    return inspect.cleandoc(help_text).split("\n\n")[0].replace("\n", " ").strip()


@pytest.mark.parametrize("lazy", COMMANDS, ids=lambda c: c.name)
def test_each_listed_summary_is_the_command_own_help(lazy: object) -> None:
    root = typer.main.get_group(app)
    name = getattr(lazy, "name")  # noqa: B009
    real = root.commands[name]  # imports the command's module
    assert getattr(lazy, "summary") == _first_paragraph(real.help or ""), (  # noqa: B009
        f"update the summary of {name!r} in tagwatch/cli/main.py COMMANDS to its help"
    )


def test_every_registered_command_is_listed_once() -> None:
    names = [c.name for c in COMMANDS]
    assert len(names) == len(set(names))
    root = typer.main.get_group(app)
    assert root.list_commands(None) == names  # type: ignore[arg-type]


def test_a_mistyped_command_is_one_line_with_a_suggestion() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["wach", "list"])
    assert result.exit_code == 2
    assert "Did you mean 'watch'?" in result.output


def test_bash_completion_script_completes_commands_subcommands_and_options(
    tmp_path: Path,
) -> None:
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "tagwatch").exists(), "the tagwatch entry point is installed by uv sync"
    script = subprocess.run(
        [str(bin_dir / "tagwatch"), "--show-completion", "bash"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    (tmp_path / "completion.bash").write_text(script)

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        shell = (
            f"source {tmp_path / 'completion.bash'}\n"
            f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
            "_tagwatch_completion tagwatch\n"  # bash passes the command name as $1
            'printf "%s\\n" "${COMPREPLY[@]}"\n'
        )
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        proc = subprocess.run(
            ["bash", "-c", shell], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert complete("tagwatch", "wat") == ["watch"]
    assert complete("tagwatch", "watch", "l") == ["list"]
    assert "--kubeconfig" in complete("tagwatch", "skew", "--kube")
    assert {"check", "config"} <= set(complete("tagwatch", "c"))


def test_a_lazy_command_is_built_with_the_group_command_class() -> None:
    from tagwatch.cli.flags import FlagCommand
    from tagwatch.cli.lazy import LazyCommand, LazyGroup

    class Flagged(LazyGroup):
        lazy_commands = (LazyCommand("lint", "tagwatch.cli.pin:lint", "Find image references."),)
        command_class = FlagCommand

    assert isinstance(Flagged(name="t").commands["lint"], FlagCommand)
    assert isinstance(typer.main.get_group(app).commands["lint"], FlagCommand)  # tagwatch's own
