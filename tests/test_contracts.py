"""The package's promises about itself: its public names, and what the core may import."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import pkgutil
import re
import sys
import tomllib
import types
from pathlib import Path

import pytest

import tagwatch

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _distribution(requirement: str) -> str:
    """`psycopg[binary]>=3.1` -> `psycopg`, spelled as importlib.metadata spells it."""
    return re.split(r"[\[<>=~!; ]", requirement)[0].lower().replace("_", "-")


def test_all_lists_exactly_the_public_names() -> None:
    # As httpx's test_exported_members: a name imported into the package is exported or private.
    # The exported names are loaded on first use (tagwatch/lazy_exports.py): read each once.
    for name in tagwatch.__all__:
        getattr(tagwatch, name)
    public = [
        name
        for name, value in vars(tagwatch).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, types.ModuleType)
    ]
    assert sorted(tagwatch.__all__) == sorted(public)  # the order is ruff's (RUF022)


def _modules() -> list[str]:
    found = pkgutil.walk_packages(tagwatch.__path__, prefix="tagwatch.")
    return sorted(m.name for m in found if m.name != "tagwatch.__main__")


@pytest.mark.parametrize("name", _modules())
def test_every_name_a_module_exports_exists_once(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", [])
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ names what it does not define: {missing}"


def _contract(name: str) -> dict[str, object]:
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    [contract] = [c for c in contracts if c["name"] == name]
    return dict(contract)


def test_the_core_is_forbidden_every_runtime_dependency() -> None:
    # kopf's contracts list each third-party package; a dependency added later must join them.
    by_distribution: dict[str, set[str]] = {}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            key = distribution.lower().replace("_", "-")
            by_distribution.setdefault(key, set()).add(module)
    wanted: set[str] = set()
    for requirement in PYPROJECT["project"]["dependencies"]:
        distribution = _distribution(requirement)
        modules = {m for m in by_distribution.get(distribution, set()) if not m.startswith("_")}
        assert modules, f"{distribution} is a dependency but installs no importable module"
        wanted |= modules
    forbidden = _contract("The core does no I/O")["forbidden_modules"]
    assert isinstance(forbidden, list)
    assert sorted(wanted - set(forbidden)) == []


def test_the_adapters_are_independent_of_each_other() -> None:
    adapters = {"tagwatch.registry", "tagwatch.store", "tagwatch.cluster", "tagwatch.notify"}
    contract = _contract("Adapters do not know each other")
    assert contract["type"] == "independence"
    modules = contract["modules"]
    assert isinstance(modules, list) and adapters <= set(modules)


def _imported_packages() -> dict[str, str]:
    """Each top-level package the code imports (TYPE_CHECKING and function-local imports too),
    with one file that imports it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "tagwatch").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_package_the_code_imports_is_a_declared_dependency() -> None:
    # A package that arrives only through another's dependencies (httpx2 via lightkube,
    # cryptography via sigstore) disappears when that one drops it: declare what we import.
    declared = {_distribution(r) for r in PYPROJECT["project"]["dependencies"]}
    installed = importlib.metadata.packages_distributions()
    undeclared: dict[str, str] = {}
    for package, where in _imported_packages().items():
        if package in sys.stdlib_module_names or package == "tagwatch":
            continue
        distributions = {_distribution(d) for d in installed.get(package, [])}
        if not distributions & declared:
            undeclared[package] = f"{where} (from {', '.join(sorted(distributions)) or '?'})"
    assert undeclared == {}, "imported but not in [project.dependencies]"
    assert {"httpx2", "yaml", "jinja2", "cryptography"} <= set(_imported_packages())
