"""What deploys is complete: every module the layer and the functions import (at top level or
inside a function) resolves in the Lambda-like interpreter of the local workers, which holds
only the Lambda Python runtime's packages (boto3, botocore and theirs) and the built layer.
A package the dev virtualenv happens to hold (moto pulls in many) does not count."""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest

from local_runtime.lambda_build import LAYER_SOURCE, LambdaBuild, ensure_build
from local_runtime.template import ROOT, local_stack

# Imports each name in the worker interpreter; prints the ones that fail, with the reason.
_CHECK = """
import importlib, json, sys
missing = {}
for name, attr in json.loads(sys.argv[1]):
    try:
        module = importlib.import_module(name)
        if attr and not hasattr(module, attr):
            importlib.import_module(f"{name}.{attr}")
    except Exception as exc:
        missing[name + (f".{attr}" if attr else "")] = f"{type(exc).__name__}: {exc}"
print(json.dumps(missing))
"""


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, package: str | None = None) -> set[tuple[str, str]]:
    """(module, imported name or "") for every absolute or relative import in the file, at any
    depth, except under `if TYPE_CHECKING:` (never executed)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = {
        id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node) for n in ast.walk(node)
    }
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {(alias.name, "") for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                assert package, f"relative import outside a package in {path}"
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found |= {(module, alias.name if alias.name != "*" else "") for alias in node.names}
    return found


def _package_of(path: Path) -> str:
    return ".".join(path.relative_to(LAYER_SOURCE).parts[:-1])


@pytest.fixture(scope="module")
def build() -> LambdaBuild:
    return ensure_build()


def _template_environment(code_uri: Path) -> dict[str, str]:
    """The function's template environment (the layer's modules: every function's), which the
    layer validates at import."""
    functions = local_stack().functions().values()
    env: dict[str, str] = {}
    for fn in [f for f in functions if f.code_uri == code_uri] or list(functions):
        env.update(fn.environment)
    return env


def _check(build: LambdaBuild, code_uri: Path, names: set[tuple[str, str]]) -> dict[str, str]:
    # The worker's sys.path, set by a prelude run before the check.
    prelude = f"import sys; sys.path[:0] = {build.sys_path(code_uri)!r}\n"
    done = subprocess.run(
        [str(build.python), "-I", "-c", prelude + _CHECK, json.dumps(sorted(names))],
        env={
            **_template_environment(code_uri),
            "PATH": "/usr/bin:/bin",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
        },
        cwd=code_uri,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_layer_imports_resolve_in_the_lambda_interpreter(build: LambdaBuild) -> None:
    names: set[tuple[str, str]] = set()
    for path in sorted((LAYER_SOURCE / "albums_core").rglob("*.py")):
        names |= imports_of(path, _package_of(path))
    assert len(names) > 20, names
    assert _check(build, LAYER_SOURCE, names) == {}


@pytest.mark.parametrize(
    "code_uri", sorted(p.parent for p in (ROOT / "functions").glob("*/app.py")), ids=lambda p: p.name
)
def test_each_function_imports_resolve_in_the_lambda_interpreter(build: LambdaBuild, code_uri: Path) -> None:
    names = imports_of(code_uri / "app.py") | {("app", "")}
    assert _check(build, code_uri, names) == {}


def test_the_check_catches_a_dev_only_import(build: LambdaBuild, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import json\n\ndef lambda_handler(event, context):\n    import yaml\n    from moto import mock_aws\n"
    )
    names = imports_of(tmp_path / "app.py")
    assert names == {("json", ""), ("yaml", ""), ("moto", "mock_aws")}
    assert set(_check(build, tmp_path, names)) == {"yaml", "moto.mock_aws"}
