"""Every benchmark module imports against the current layer (the bench is not run in CI, and a
refactor of the services once left `python -m bench` failing at import). The conftest's guard
makes any connection opened at import fail the test."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
MODULES = sorted(f"bench.{info.name}" for info in pkgutil.iter_modules([str(BENCH)]))


def test_the_bench_package_is_found() -> None:
    assert {"bench.__main__", "bench.calls", "bench.paging", "bench.cleanups"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_each_bench_module_imports(name: str) -> None:
    importlib.import_module(name)


@pytest.mark.parametrize("name", MODULES)
def test_each_layer_name_a_bench_module_imports_inside_its_functions_exists(name: str) -> None:
    # Sections import some of the layer only when they run (after the stack has set the
    # environment): those `from albums_core... import name` lines are checked here too.
    path = BENCH / f"{name.removeprefix('bench.')}.py"
    missing = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("albums_core"):
            module = importlib.import_module(node.module or "")
            missing += [
                f"{node.module}.{a.name}"
                for a in node.names
                if not hasattr(module, a.name) and not _submodule(node.module or "", a.name)
            ]
    assert missing == []


def _submodule(package: str, name: str) -> bool:
    try:
        importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError:
        return False
    return True
