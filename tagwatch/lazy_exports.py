"""Package names imported from their modules on first use (PEP 562), for a fast start.

A package that re-exports its modules' names would import all of them, and what they import,
whenever any one of its modules is imported: `tagwatch.store` would cost every command
SQLAlchemy, `tagwatch` the move classifier. With `__getattr__ = module_getattr(...)` a name is
imported when it is first read; type checkers see the same names through `if TYPE_CHECKING:`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["module_getattr"]


def module_getattr(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that loads each name of `homes` from its module."""
    namespace = import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(home), name)
        namespace[name] = value  # cached: later reads are plain attribute reads
        return value

    return __getattr__
