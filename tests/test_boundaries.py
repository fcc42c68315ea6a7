"""Import boundaries, checked on the source: who may import whom, with no exception list.

- no bounded context imports another (placement, access, offers, relations);
- the gateway and the command line import no context's code: only the kernel, the generated
  contracts and the plumbing (`services.common`);
- the kernel imports only itself and the standard library;
- domain code (a context's `domain` module or package) imports neither gRPC nor SQLite;
- only the composition root (`runtime`) builds contexts, and the CLI reaches them through it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONTEXTS = ("placement", "access", "offers", "relations")
TRANSPORTS = ("grpc", "grpc_health", "grpc_reflection", "grpc_status", "sqlite3", "sqlite_utils")


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, at any depth (lazy imports inside functions too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _sources(*parts: str) -> list[Path]:
    found = sorted((ROOT.joinpath(*parts)).rglob("*.py"))
    assert found, f"no sources under {'/'.join(parts)}"
    return found


def _context_of(module: str) -> str | None:
    bits = module.split(".")
    if len(bits) >= 2 and bits[0] == "services" and bits[1] in CONTEXTS:
        return bits[1]
    return None


@pytest.mark.parametrize("context", CONTEXTS)
def test_no_context_imports_another(context: str) -> None:
    crossing = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _sources("services", context)
        for name in _imports(path)
        if _context_of(name) not in (None, context)
    ]
    assert crossing == []


@pytest.mark.parametrize("part", ["gateway", "cli"])
def test_the_gateway_and_the_cli_import_no_contexts_code(part: str) -> None:
    crossing = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _sources(part)
        for name in _imports(path)
        if _context_of(name) is not None
    ]
    assert crossing == []


def test_the_kernel_imports_only_itself_and_the_standard_library() -> None:
    first_party = ("services", "gateway", "cli", "runtime", "cmr", "load", "bench")
    foreign = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _sources("kernel")
        for name in _imports(path)
        if name.split(".")[0] in (*first_party, *TRANSPORTS, "google", "yaml")
    ]
    assert foreign == []


def test_domain_code_imports_neither_grpc_nor_sqlite() -> None:
    domains = [
        path
        for context in CONTEXTS
        for path in _sources("services", context)
        if path.stem == "domain" or "domain" in path.relative_to(ROOT).parts[2:-1]
    ]
    assert len(domains) >= len(CONTEXTS)
    transport = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in domains
        for name in _imports(path)
        if name.split(".")[0] in (*TRANSPORTS, "cmr")
    ]
    assert transport == []


def test_only_the_composition_root_builds_contexts() -> None:
    builders = {
        str(path.relative_to(ROOT))
        for part in ("gateway", "cli", "services", "load")
        for path in _sources(part)
        for name in _imports(path)
        if _context_of(name) is not None
        and name.endswith(".server")
        and _context_of(name) != path.relative_to(ROOT).parts[1]
    }
    assert builders == set()
