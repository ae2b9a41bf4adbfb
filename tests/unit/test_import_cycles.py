"""No import cycle in the layer: the graph of albums_core's modules, from every import statement
in the source (module level, inside functions, under TYPE_CHECKING: all of them), has no cycle.
A cycle hides in a function-level import until someone moves the import and a module is
half-initialised at its first call; it also means two modules cannot be understood apart."""

from __future__ import annotations

import ast
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "shared" / "albums_core"

# Known cycles, each a sorted tuple of its modules, with who removes it.
# Cycles tolerated for now, each with why (none today: the test below keeps the list honest).
ALLOWED: dict[tuple[str, ...], str] = {}


def module_name(path: Path, layer: Path) -> str:
    parts = [layer.name, *path.relative_to(layer).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph(layer: Path = LAYER) -> dict[str, set[str]]:
    """Module -> the layer's modules it imports (a name imported from a package is its submodule
    when there is one, else the package)."""
    modules = {module_name(p, layer): p for p in layer.rglob("*.py")}
    root = layer.name
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target.split(".")[0] != root:
                    continue
                while target and target not in modules:  # `import a.b.c` of a name inside c
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(tuple(sorted(component)))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_layer_has_no_import_cycle() -> None:
    found = cycles(graph())
    unexpected = [c for c in found if c not in ALLOWED]
    assert unexpected == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in unexpected)


def test_the_allowed_cycles_are_still_there() -> None:
    """An allowance outlives its cycle only until this fails: then delete it."""
    assert set(ALLOWED) <= set(cycles(graph()))


def test_a_cycle_through_a_function_level_or_relative_import_is_found(tmp_path: Path) -> None:
    layer = tmp_path / "albums_core"
    (layer / "pkg").mkdir(parents=True)
    (layer / "__init__.py").write_text("")
    (layer / "pkg" / "__init__.py").write_text("")
    (layer / "pkg" / "a.py").write_text("from albums_core.pkg.b import thing\n")
    (layer / "pkg" / "b.py").write_text("def thing():\n    from . import c\n")
    (layer / "pkg" / "c.py").write_text("import albums_core.pkg.a\n")
    (layer / "pkg" / "d.py").write_text("from albums_core.pkg import a\n")
    assert cycles(graph(layer)) == [("albums_core.pkg.a", "albums_core.pkg.b", "albums_core.pkg.c")]
