"""Docs are executable: every command has help with an example, and the README shows it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup

import tagwatch
from tagwatch.cli.main import app

README = (Path(__file__).parents[1] / "README.md").read_text()


def _commands(group: TyperGroup, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, TyperGroup):
            yield from _commands(command, f"{path} ")
        else:
            yield path, command


_ROOT = typer.main.get_group(app)
assert isinstance(_ROOT, TyperGroup)
COMMANDS = dict(_commands(_ROOT))


def test_there_are_commands_to_document() -> None:
    assert {"watch add", "check", "history", "db upgrade"} <= COMMANDS.keys()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_help_has_an_example(name: str) -> None:
    help_text = COMMANDS[name].help or ""
    assert "Example" in help_text, f"`tagwatch {name} --help` shows no example"
    assert f"tagwatch {name}" in help_text, f"the example of `{name}` does not run it"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_appears_in_the_readme(name: str) -> None:
    assert f"tagwatch {name}" in README, f"README has no example of `tagwatch {name}`"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help(name: str) -> None:
    for param in COMMANDS[name].params:
        if param.param_type_name == "option" and param.name != "help":
            assert param.help, f"`tagwatch {name}` option {param.opts} has no help text"


def test_public_names_are_importable() -> None:
    for name in tagwatch.__all__:
        assert getattr(tagwatch, name) is not None


def test_the_readme_configuration_example_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tagwatch.app.settings import load_settings

    section = README.split("## Configuration", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "tagwatch.yaml"
    path.write_text(example)
    monkeypatch.setenv("GHCR_TOKEN", "token")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-token")
    settings = load_settings(path)
    assert "ghcr.io" in settings.registry_settings()
