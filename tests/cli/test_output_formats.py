"""What people expect of a CLI: -o yaml beside -o json, --no-headers, ISO 8601 UTC times with Z
in tables, and Typer's shell completion."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tagwatch.cli.main import app
from tests.support.registry import TestRegistry


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_yaml_is_the_same_data_as_json_and_tables_drop_their_headers_on_request(
    registry: TestRegistry, repo_name: str, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    ref = f"{registry.host}/{repo_name}:prod"
    registry.push_image(repo_name, "prod", content="v1")
    _run("watch", "add", ref, "--db", db)
    for command in (["check", ref], ["history", ref], ["watch", "list"]):
        as_json = json.loads(_run(*command, "-o", "json", "--db", db))
        as_yaml = yaml.safe_load(_run(*command, "-o", "yaml", "--db", db))
        if command[0] == "check":  # a second check says unchanged: compare the stable part
            as_json = [{"ref": r["ref"], "digest": r["digest"]} for r in as_json]
            as_yaml = [{"ref": r["ref"], "digest": r["digest"]} for r in as_yaml]
        assert as_yaml == as_json, command
        headed = _run(*command, "--db", db).splitlines()
        bare = _run(*command, "--no-headers", "--db", db).splitlines()
        assert "REF" in headed[0] and "REF" not in "".join(bare), (command, bare)
        assert [line.split() for line in bare] == [line.split() for line in headed[1:]]
    [row] = _run("history", ref, "--no-headers", "--db", db).splitlines()
    assert re.match(r"^\s*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s", row), row  # seconds, UTC, Z
    future = "2999-01-01T00:00:00Z"  # no move yet: an empty list, as with -o json
    assert yaml.safe_load(_run("history", "-o", "yaml", "--since", future, "--db", db)) == []


def test_shell_completion_is_typers_own() -> None:
    script = _run("--show-completion", "bash")
    assert "_tagwatch_completion" in script and "complete" in script
    assert "--install-completion" in _run("--help")


def test_flags_show_as_flags_in_help() -> None:
    import typer.main

    group = typer.main.get_command(app)
    commands: list[list[str]] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        commands += [[name, sub] for sub in subs] if subs else [[name]]
    assert len(commands) >= 12 and ["watch", "list"] in commands
    for words in [[], *commands]:  # --help, --version and shell completion are flags too
        text = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "120"}).stdout
        assert "--help" in text
        shown = [line for line in text.splitlines() if "<bool>" in line or "BOOLEAN" in line]
        assert not shown, (words, shown)


def _commands() -> list[tuple[list[str], Any]]:
    import typer.main

    found: list[tuple[list[str], Any]] = []

    def walk(group: Any, prefix: list[str]) -> None:
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                walk(command, [*prefix, name])
            else:
                found.append(([*prefix, name], command))

    walk(typer.main.get_command(app), [])
    return found


def test_arguments_and_option_values_are_named_one_way_in_help() -> None:
    # `[refs]...`, `{target}`, `[[FILE]...]...` and `<str>` read as four programs' help.
    from typer.core import TyperArgument, TyperOption

    commands = _commands()
    assert len(commands) >= 12
    for words, command in commands:
        for param in command.params:
            if isinstance(param, TyperArgument):
                assert param.metavar and param.metavar == param.metavar.upper(), (words, param)
                if param.name in ("ref", "refs"):
                    assert param.metavar == "REF", words
            elif isinstance(param, TyperOption) and not param.is_flag:
                choices = param.type_descriptor.is_choice
                assert choices or (param.metavar and param.metavar.isupper()), (words, param.opts)
        text = CliRunner().invoke(app, [*words, "--help"], env={"COLUMNS": "120"}).stdout
        usage = next(line for line in text.splitlines() if "Usage:" in line)
        assert not re.search(r"[\[{][a-z]", usage) and "[[" not in usage, usage


def test_o_wide_and_yaml_are_wherever_o_json_is_and_tables_take_no_headers() -> None:
    from typer.core import TyperOption

    with_json = []
    for words, command in _commands():
        options = {o: p for p in command.params if isinstance(p, TyperOption) for o in p.opts}
        output = options.get("--output")
        choices = [str(c) for c in output.type_descriptor.choices or ()] if output else []
        if "json" not in choices or words == ["report"]:  # report: markdown, json or html
            continue
        with_json.append(words)
        assert {"wide", "yaml"} <= set(choices), words
    assert {"check", "history", "skew", "verify", "drift", "lint"} <= {w[0] for w in with_json}
    assert ["watch", "list"] in with_json
    tables = {"check", "history", "backfill", "skew", "drift", "watch list"}
    for words, command in _commands():
        if " ".join(words) in tables:
            assert "--no-headers" in {o for p in command.params for o in p.opts}, words


def test_a_time_for_people_is_to_the_second_in_utc(
    registry: TestRegistry, repo_name: str, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'tw.db'}"
    ref = f"{registry.host}/{repo_name}:prod"
    registry.push_image(repo_name, "prod", content="v1")
    _run("check", ref, "--db", db)
    said = _run("history", ref, "--at", "0s", "--db", db)  # now: microseconds, in JSON only
    assert re.search(r" at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", said.strip()), said
    answer = json.loads(_run("history", ref, "--at", "0s", "-o", "json", "--db", db))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", answer["at"]), answer


def test_progress_goes_to_a_terminal_stderr_and_never_to_a_pipe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from rich.console import Console

    from tagwatch.cli import common

    for terminal in (True, False):
        err = io.StringIO()
        monkeypatch.setattr(common, "err_console", Console(file=err, force_terminal=terminal))
        with common.progress("checking 3 tags…"):
            time.sleep(0.3)  # the spinner draws at least once
        assert ("checking 3 tags" in err.getvalue()) is terminal, err.getvalue()
    # and a piped command prints only its own lines on stderr
    result = CliRunner().invoke(app, ["lint", "Dockerfile"])
    assert (
        result.stderr.strip().splitlines() == [result.stderr.strip().splitlines()[-1]]
        and "image references" in result.stderr
    )
