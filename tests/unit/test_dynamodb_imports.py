"""The DynamoDB adapters import one another without a cycle (the catalogue invalidates pages
through the page cache; the page cache never imports the catalogue back), and the catalogue's
siblings use the public Table helper, never the catalogue's private members."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

PACKAGE = "albums_core.adapters.dynamodb"
FOLDER = Path(__file__).resolve().parents[2] / "layers" / "shared" / "albums_core" / "adapters" / "dynamodb"


def test_no_import_cycle_among_the_dynamodb_adapters() -> None:
    graph = grimp.build_graph("albums_core")
    modules = {m for m in graph.modules if m.startswith(PACKAGE + ".")}
    cycles = []
    for module in sorted(modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module) & modules):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                cycles.append((module, *back))
    assert cycles == []


def test_no_dynamodb_adapter_uses_another_objects_private_members() -> None:
    found = []
    for path in sorted(FOLDER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                found.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert found == []
