"""The root command group: each command's module imported only when that command runs.

Importing every command module cost each start ~2 s (SQLAlchemy, httpx, lightkube, the vendor
APIs), for `tagwatch --help` too. Like git and kubectl plugins, the root knows each command
by name and one line of help, and imports its module when the command is run, its own help
is asked for, or something reads `group.commands[name]` (the docs tests do).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.main
from typer._click import Command, Context
from typer.core import TyperCommand, TyperGroup

__all__ = ["LazyCommand", "LazyGroup"]


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A command known by name before its module is imported.

    `target` is `module:attribute`, a command function or a Typer sub-app; `summary` is the
    first paragraph of its help, shown by `tagwatch --help` (a test keeps the two equal).
    """

    name: str
    target: str
    summary: str

    def load(
        self, *, markup_mode: Any, suggest_commands: bool, command_class: type[TyperCommand] | None
    ) -> Command:
        """Import the module and build the command exactly as an eager `add_typer` would
        (a function becomes a `command_class`, Typer's own when None)."""
        module, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module), attribute)
        holder = typer.Typer(rich_markup_mode=markup_mode, suggest_commands=suggest_commands)
        if isinstance(found, typer.Typer):
            holder.add_typer(found, name=self.name)
        else:
            holder.command(self.name, cls=command_class)(found)
        return typer.main.get_group(holder).commands[self.name]


class _Commands(MutableMapping[str, Command]):
    """The group's commands by name; reading one imports it, listing names imports nothing."""

    def __init__(self, lazy: Sequence[LazyCommand], load: Any) -> None:
        self._lazy = {c.name: c for c in lazy}
        self._loaded: dict[str, Command] = {}
        self._load = load

    def summary(self, name: str) -> Command | None:
        """The loaded command, else a stand-in carrying only its name and one line of help."""
        if name in self._loaded:
            return self._loaded[name]
        lazy = self._lazy.get(name)
        return None if lazy is None else TyperCommand(name=name, help=lazy.summary)

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded:
            self._loaded[name] = self._load(self._lazy[name])
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._lazy.pop(name, None)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self._lazy), **dict.fromkeys(self._loaded)})

    def __len__(self) -> int:
        return len(self._lazy.keys() | self._loaded.keys())

    def __contains__(self, name: object) -> bool:
        return name in self._lazy or name in self._loaded


class LazyGroup(TyperGroup):
    """A Typer group whose commands are `lazy_commands`, imported on first use.

    Subclass it with `lazy_commands` set (and `command_class`, the class of the commands
    made from functions) and pass it as `typer.Typer(cls=…)`.
    """

    lazy_commands: ClassVar[Sequence[LazyCommand]] = ()

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        eager = dict(self.commands)
        self.commands = _Commands(self.lazy_commands, self._build)
        self.commands.update(eager)

    def _build(self, lazy: LazyCommand) -> Command:
        cls = self.command_class
        return lazy.load(
            markup_mode=self.rich_markup_mode,
            suggest_commands=self.suggest_commands,
            command_class=cls if cls is not None and issubclass(cls, TyperCommand) else None,
        )

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # names only: TyperGroup's reads (imports) every command

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        # Help and completion list the commands through here: stand-ins are enough for them.
        commands = self.commands
        assert isinstance(commands, _Commands)
        return commands.summary(cmd_name)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        # The one command about to run (or to show its own help, or complete) is imported.
        if args and args[0] in self.commands:
            self.commands[args[0]]
        return super().resolve_command(ctx, args)
