"""Each module of the relations domain imports only the layers below it: no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from services.relations import domain

PACKAGE = Path(domain.__file__).parent
PREFIX = "services.relations.domain"
BELOW: dict[str, set[str]] = {
    "values": set(),
    "store": {"values"},
    "matching": {"values"},
    "scope": {"values", "store"},
    "lifecycle": {"values", "store", "matching", "scope"},
    "halves": {"values", "store", "matching", "scope"},
    "reactions": {"values", "store", "matching", "scope", "lifecycle", "halves"},
}


def _domain_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            rest = node.module.removeprefix(PREFIX).lstrip(".")
            found.update([rest] if rest else (alias.name for alias in node.names))
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add(node.module or "")
    return found


def test_every_domain_module_has_a_layer() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert modules == set(BELOW)


@pytest.mark.parametrize("module", sorted(BELOW))
def test_a_domain_module_imports_only_the_layers_below_it(module: str) -> None:
    assert _domain_imports(PACKAGE / f"{module}.py") <= BELOW[module]


def test_the_package_exports_every_name_it_lists() -> None:
    assert all(hasattr(domain, name) for name in domain.__all__)
