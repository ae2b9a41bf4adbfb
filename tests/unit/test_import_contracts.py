"""The layer's import contracts (.importlinter, tools/check_imports.py) hold, and they bite: the
same contracts run on a copy of the layer with one forbidden import added report it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tools import check_imports

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(layer_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(layer_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / ".importlinter")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_layer_keeps_its_import_contracts() -> None:
    out = lint_imports(ROOT / "layers" / "shared")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


# One forbidden import per contract, all in one copy of the layer (one run of lint-imports).
VIOLATIONS = [
    ("services/sweep.py", "import boto3", "Services reach AWS and the network only through ports"),
    ("services/listing.py", "from albums_core.adapters import cursor_signing", "Services depend on ports"),
    ("ports/pds.py", "from albums_core.adapters.atproto import xrpc", "Ports speak the domain's types only"),
    ("domain/slugs.py", "from albums_core.adapters.dynamodb import keys", "The domain imports only"),
    ("adapters/dynamodb/codec.py", "from albums_core.services import listing", "Dependencies point inward"),
    ("http/multipart.py", "import botocore", "The HTTP layer never imports"),
    ("config.py", "import boto3", "config is a leaf"),
]


def test_a_forbidden_import_breaks_its_contract(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "layers" / "shared" / "albums_core", tmp_path / "albums_core")
    for module, line, _ in VIOLATIONS:
        target = tmp_path / "albums_core" / module
        target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    out = lint_imports(tmp_path)
    assert out.returncode != 0
    assert f"0 kept, {len(VIOLATIONS)} broken" in out.stdout, out.stdout
    broken = out.stdout.split("Broken contracts", 1)[1]
    for module, _, contract in VIOLATIONS:
        assert contract in broken, out.stdout
        assert "albums_core." + module.removesuffix(".py").replace("/", ".") in broken, out.stdout


def test_handlers_and_the_layer_keep_the_rules_import_linter_cannot_state() -> None:
    assert check_imports.violations() == []


def test_a_handler_importing_an_adapter_or_a_library_is_reported(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(
        "from typing import Any\n"
        "from aws_lambda_powertools.utilities.typing import LambdaContext\n"
        "from albums_core.services import auth\n"
        "from albums_core.http.web import make_app\n"
        "from albums_core.adapters.dynamodb.catalogue import CatalogueWriter\n"
        "from albums_core import domain\n"
        "import boto3\n"
        "def handler() -> None:\n"
        "    from urllib.request import urlopen\n",
        encoding="utf-8",
    )
    found = check_imports.handler_violations(app)
    assert [f.split(":")[1] for f in found] == ["5", "5", "6", "7", "9", "9"], found


def test_a_service_reaching_into_a_private_member_or_urllib_request_or_spelling_a_key_is_reported(
    tmp_path: Path,
) -> None:
    service = tmp_path / "services" / "thing.py"
    service.parent.mkdir()
    service.write_text(
        "from urllib import request\n"
        "def f(repo, did):\n"
        "    repo._query_all()\n"
        "    return {'pk': f'ARTIST#{did}', 'sk': 'PROFILE', 'doc': 'the ARTIST# items (prose is fine)'}\n"
        "    repo.public()\n"
        "class A:\n"
        "    def g(self):\n"
        "        return self._own()\n",
        encoding="utf-8",
    )
    found = check_imports.layer_violations(service, tmp_path)
    assert len(found) == 4, found
    assert any(":1: imports the network module urllib.request" in f for f in found), found
    assert any(":3: reaches into a private member _query_all" in f for f in found), found
    assert any(":4: spells the key part 'ARTIST#'" in f for f in found), found
    assert any(":4: spells the key part 'PROFILE'" in f for f in found), found


def test_private_names_used_across_modules_are_reported_anywhere_in_the_layer(tmp_path: Path) -> None:
    store = tmp_path / "adapters" / "dynamodb" / "store.py"
    store.parent.mkdir(parents=True)
    store.write_text(
        "from albums_core.adapters.atproto.oauth_client import _pem, public\n"
        "from albums_core.adapters.atproto import oauth_client as client\n"
        "from atproto_oauth.client import OAuthClient\n"
        "class Store(OAuthClient):\n"
        "    _shared = 1\n"
        "    def f(self, repo):\n"
        "        client._load_pem('x')\n"
        "        super()._make_token_request()\n"
        "        repo._transact()\n"
        "        return self._own, Store._shared, public.__doc__\n",
        encoding="utf-8",
    )
    found = check_imports.layer_violations(store, tmp_path)
    assert [f.split(":")[1] for f in found] == ["1", "7", "8", "9"], found
    assert "imports the private name _pem from albums_core.adapters.atproto.oauth_client" in found[0]
    assert all("private member" in f for f in found[1:]), found


def test_each_known_private_use_is_still_there() -> None:
    """An allowance outlives its violation only until this fails: then delete it."""
    for relative in check_imports.KNOWN_PRIVATE_USE:
        path = check_imports.LAYER / relative
        tree = check_imports.ast.parse(path.read_text(encoding="utf-8"))
        assert check_imports.private_use(path, tree), relative
