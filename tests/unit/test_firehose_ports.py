"""The firehose ports' adapters and fakes offer every method of their port, with the same
parameters (as tests/unit/test_ports.py does for the other ports)."""

from __future__ import annotations

import inspect

import pytest

from albums_core.ports import firehose as ports
from tests.fakes import firehose as fakes
from tests.fakes.likes import FakeLikeStore
from tests.unit.test_ports import adapter_class, methods, parameters

IMPLEMENTATIONS: dict[type, tuple[str, type]] = {
    ports.FirehoseLeases: ("albums_core.adapters.dynamodb.firehose_lease:FirehoseLeases", fakes.FakeLeases),
    ports.RepoStates: ("albums_core.adapters.dynamodb.repo_state:RepoStates", fakes.FakeRepoStates),
    ports.LikeStore: ("albums_core.adapters.dynamodb.likes:LikeStore", FakeLikeStore),
    ports.FirehoseCatalogue: ("albums_core.adapters.dynamodb.catalogue:CatalogueWriter", fakes.FakeFirehoseCatalogue),
    ports.AlbumPages: ("albums_core.adapters.dynamodb.page_drops:AlbumPageDrops", fakes.FakePages),
    ports.PdsReader: ("albums_core.adapters.atproto.repo_reads:RepoReads", fakes.FakeRepoReads),
    ports.IdentityResolver: ("albums_core.adapters.atproto.repo_reads:IdentityResolver", fakes.FakeIdentities),
    ports.CommitCheck: ("albums_core.adapters.atproto.commit_verify:CommitVerifier", fakes.FakeVerifier),
    ports.RepoIndexer: ("albums_core.bootstrap.firehose:CatalogueIndexer", fakes.FakeIndexer),
}


@pytest.mark.parametrize("port", list(IMPLEMENTATIONS), ids=lambda p: p.__name__)
@pytest.mark.parametrize("side", ["adapter", "fake"])
def test_implementations_offer_every_method_of_their_port(port: type, side: str) -> None:
    path, fake = IMPLEMENTATIONS[port]
    implementation = adapter_class(path) if side == "adapter" else fake
    wanted = methods(port)
    assert wanted, port
    for name, signature in wanted.items():
        member = getattr(implementation, name, None)
        assert callable(member), f"{implementation.__name__}.{name} is missing"
        assert parameters(inspect.signature(member)) == parameters(signature), f"{implementation.__name__}.{name}"


def test_ingestion_services_import_no_adapter() -> None:
    """services/firehose/ depends on ports and the domain only: the failures of a PDS or of an
    identity lookup it catches are the domain's (domain/upstream.py)."""
    import ast
    from pathlib import Path

    package = Path(ports.__file__).resolve().parent.parent / "services" / "firehose"
    found = []
    for module in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            named = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            if isinstance(node, ast.Import):
                named = " ".join(alias.name for alias in node.names)
            if "albums_core.adapters" in named:
                found.append(f"{module.name}: {named}")
    assert found == []
