"""The adapters and the in-memory fakes offer every method of the ports they stand for, with
the same parameters: a fake that drifts from its port fails here, not in a misleading test."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

from albums_core import ports
from albums_core.adapters.atproto.xrpc import PdsSession, Tokens
from tests import fakes

# port -> (the adapter, as module:class; the fake)
IMPLEMENTATIONS: dict[type, tuple[str, type]] = {
    ports.Catalogue: ("albums_core.adapters.dynamodb.catalogue:CatalogueWriter", fakes.FakeCatalogue),
    ports.ArtistDirectory: ("albums_core.adapters.dynamodb.catalogue:CatalogueWriter", fakes.FakeArtists),
    ports.PageCache: ("albums_core.adapters.dynamodb.page_cache:AlbumPageCache", fakes.FakePageCache),
    ports.SessionStore: ("albums_core.adapters.dynamodb.session_store:DynamoSessionStore", fakes.FakeSessionStore),
    ports.Sealer: ("albums_core.adapters.kms_sealer:KmsSealer", fakes.FakeSealer),
    ports.CoverStore: ("albums_core.adapters.s3_covers:CoverStore", fakes.FakeCoverStore),
    ports.Pds: ("albums_core.adapters.atproto.xrpc:PdsSession", fakes.FakePds),
    ports.DeletionJobs: ("albums_core.services.album_admin:CleanupHandOver", fakes.FakeDeletionJobs),
}


def methods(port: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(port).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }


def parameters(signature: inspect.Signature) -> list[tuple[str, Any, bool]]:
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in signature.parameters.values()
        if p.name != "self"
    ]


def adapter_class(path: str) -> type:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


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


def test_the_pds_session_and_its_fake_carry_the_ports_attributes() -> None:
    session = PdsSession("https://pds.example", "did:plc:a", Tokens("a", "r"))
    for pds in (session, fakes.FakePds("did:plc:a")):
        assert isinstance(pds.did, str) and isinstance(pds.pds_url, str) and isinstance(pds.tokens, Tokens)
