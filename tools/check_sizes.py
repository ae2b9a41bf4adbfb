"""Size rules of the layer (ARCHITECTURE.md, "Rules"): small modules, short functions.

- No module of layers/shared/albums_core over MODULE_LINES lines.
- No function or method over FUNCTION_LINES lines (decorators and docstring included).
Branch counts are ruff's (C901, PLR0912, PLR0915 in pyproject.toml).

`python -m tools.check_sizes` prints each violation and exits 1 when there is any.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "shared" / "albums_core"
MODULE_LINES = 400
FUNCTION_LINES = 60


def _show(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def violations(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    out = []
    lines = len(text.splitlines())
    if lines > MODULE_LINES:
        out.append(f"{_show(path)}: {lines} lines (a module of the layer holds at most {MODULE_LINES})")
    for func in _functions(ast.parse(text, str(path))):
        start = min([func.lineno, *(d.lineno for d in func.decorator_list)])
        length = (func.end_lineno or func.lineno) - start + 1
        if length > FUNCTION_LINES:
            limit = f"a function holds at most {FUNCTION_LINES}"
            out.append(f"{_show(path)}:{func.lineno}: {func.name} is {length} lines ({limit})")
    return out


def check(layer: Path = LAYER) -> list[str]:
    return [v for path in sorted(layer.rglob("*.py")) for v in violations(path)]


def main() -> int:
    found = check()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
