"""The import rules import-linter cannot check (ARCHITECTURE.md, "Rules"; .importlinter has the rest).

- A handler (functions/*/app.py, not a package) imports only albums_core.bootstrap (its wired
  services and guards), .services, .http, .observability and .config, Powertools and the
  standard library, and no network module.
- No module of the layer outside adapters/ imports a network submodule of the standard library
  (urllib.request, http.client: import-linter forbids only top-level external packages).
- A service never reaches into another object's private members (`repo._transact`,
  `repo._query_all`): what it needs from an adapter is an intent method.
- Every DynamoDB key is built in adapters/dynamodb/keys.py: no other module of the layer spells
  a key prefix ("ARTIST#", "JOBS#", ...) or a fixed sort key ("PROFILE").

`python -m tools.check_imports` prints each violation and exits 1 when there is any.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "shared" / "albums_core"

HANDLER_ALLOWED = (
    "albums_core.bootstrap",
    "albums_core.services",
    "albums_core.http",
    "albums_core.observability",
    "albums_core.config",
)
HANDLER_THIRD_PARTY = ("aws_lambda_powertools",)
NETWORK = ("socket", "ssl", "http.client", "http.server", "urllib.request", "asyncio.streams")


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module an import statement names (anywhere in the file, lazy imports too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:  # `from urllib import request` names urllib.request
                yield node.lineno, f"{node.module}.{alias.name}"


KEYS_MODULE = "adapters/dynamodb/keys.py"
_KEY_LITERAL = re.compile(
    r"^(ARTIST|HANDLE|ALBUM|TRACK|SLUG|CLAIM|JOBS?|USER|LIKE|IMAGE)#|^(PROFILE|LISTED|SWEEP|COUNTER)$"
)


def _show(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def handler_violations(path: Path) -> list[str]:
    out = []
    for line, module in imported(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        top = module.split(".")[0]
        if module == "albums_core":
            continue  # `from albums_core import x`: x is checked as albums_core.x
        if top == "albums_core":
            if not _within(module, HANDLER_ALLOWED):
                allowed = "bootstrap, services, http, config, observability only"
                out.append(f"{_show(path)}:{line}: a handler imports {module} ({allowed})")
        elif _within(module, NETWORK):
            out.append(f"{_show(path)}:{line}: a handler imports the network module {module}")
        elif top not in sys.stdlib_module_names and not _within(module, HANDLER_THIRD_PARTY):
            out.append(f"{_show(path)}:{line}: a handler imports {module} (a library: call a service)")
    return out


def layer_violations(path: Path, layer: Path = LAYER) -> list[str]:
    relative = path.relative_to(layer).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out: list[str] = []
    if relative != KEYS_MODULE:
        out.extend(
            f"{_show(path)}:{node.lineno}: spells the key part {node.value!r} (build keys in {KEYS_MODULE})"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _KEY_LITERAL.match(node.value)
        )
    if relative.startswith("adapters/"):
        return out
    out += [
        f"{_show(path)}:{line}: imports the network module {module} (only adapters/ may)"
        for line, module in imported(tree)
        if _within(module, NETWORK)
    ]
    if relative.startswith("services/"):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                out.append(
                    f"{_show(path)}:{node.lineno}: reaches into a private member {node.attr} "
                    "(give the adapter an intent method)"
                )
    return out


def violations() -> list[str]:
    found: list[str] = []
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        found.extend(handler_violations(app))
    for module in sorted(LAYER.rglob("*.py")):
        found.extend(layer_violations(module))
    return found


def main() -> int:
    found = violations()
    for line in found:
        print(line)
    print(f"import rules: {len(found)} violation(s)" if found else "import rules: kept")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
