"""The adapters and the in-memory fakes offer every method of the ports they stand for, with
the same parameters: a fake that drifts from its port fails here, not in a misleading test."""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Protocol

import pytest

from albums_core import ports
from albums_core.adapters.atproto.xrpc import PdsSession, Tokens
from tests import fakes

CATALOGUE = "albums_core.adapters.dynamodb.catalogue:CatalogueWriter"
GATEWAY = "albums_core.adapters.atproto.gateway"

# port -> (the adapter, as module:class; the fake, None where services are tested on the adapter)
IMPLEMENTATIONS: dict[type, tuple[str, type | None]] = {
    ports.Catalogue: (CATALOGUE, fakes.FakeCatalogue),
    ports.ArtistDirectory: (CATALOGUE, fakes.FakeArtists),
    ports.Artists: (CATALOGUE, None),
    ports.AlbumReads: (CATALOGUE, None),
    ports.AlbumWrites: (CATALOGUE, None),
    ports.AlbumLeases: (CATALOGUE, fakes.FakeCatalogue),
    ports.TrackReads: (CATALOGUE, None),
    ports.IndexedTracks: (CATALOGUE, None),
    ports.ReleasedTracks: (CATALOGUE, fakes.FakeCatalogue),
    ports.ImageReferences: (CATALOGUE, None),
    ports.FormerSlugs: (CATALOGUE, None),
    ports.Likes: (CATALOGUE, None),
    ports.IndexCatalogue: (CATALOGUE, None),
    ports.StreamCatalogue: (CATALOGUE, None),
    ports.PageCache: ("albums_core.adapters.dynamodb.page_cache:AlbumPageCache", fakes.FakePageCache),
    ports.SessionStore: ("albums_core.adapters.dynamodb.session_store:DynamoSessionStore", fakes.FakeSessionStore),
    ports.Sealer: ("albums_core.adapters.kms_sealer:KmsSealer", fakes.FakeSealer),
    ports.CoverObjects: ("albums_core.adapters.s3_covers:S3CoverStore", fakes.FakeCoverStore),
    ports.ListedObjects: ("albums_core.adapters.s3_covers:S3CoverStore", None),
    ports.Pds: ("albums_core.adapters.atproto.xrpc:PdsSession", fakes.FakePds),
    ports.PdsWriter: (f"{GATEWAY}:AtprotoWriter", None),
    ports.PdsReader: (f"{GATEWAY}:AtprotoReader", None),
    ports.PdsAccounts: (f"{GATEWAY}:AtprotoAccounts", None),
    ports.IdentityResolver: (f"{GATEWAY}:AtprotoIdentities", None),
    ports.OAuthClient: (f"{GATEWAY}:AtprotoOAuth", None),
    ports.RecordEditor: ("albums_core.adapters.atproto.record_editor:RecordEditor", None),
    ports.SignInTokens: ("albums_core.adapters.dynamodb.sign_in_tokens:DynamoSignInTokens", None),
    ports.DeletionJobs: ("albums_core.services.cleanup:Cleanup", fakes.FakeDeletionJobs),
    ports.JobQueue: ("albums_core.adapters.dynamodb.jobs:CleanupJobs", fakes.FakeJobQueue),
    ports.SweepStore: ("albums_core.adapters.dynamodb.sweep_store:SweepStore", None),
    ports.FirehoseGaps: ("albums_core.adapters.dynamodb.firehose_gaps:FirehoseGaps", None),
    ports.CursorSigner: ("albums_core.adapters.cursor_signing:SignedCursors", None),
    ports.StreamPlumbing: ("albums_core.adapters.dynamodb.stream_plumbing:CatalogueStreamPlumbing", None),
    ports.SubsonicStore: ("albums_core.adapters.dynamodb.subsonic_store:SubsonicStore", None),
    ports.DeveloperTokenStore: ("albums_core.adapters.dynamodb.developer_tokens:DynamoDeveloperTokens", None),
}


def methods(port: type) -> dict[str, inspect.Signature]:
    """Every method of the port, its own and those of the ports it is made of."""
    return {
        name: inspect.signature(member)
        for klass in reversed(port.__mro__)
        if klass not in (object, Protocol) and klass.__module__.startswith("albums_core.ports")
        for name, member in vars(klass).items()
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


# Every port against its adapter, and against its fake where it has one (the services using the
# others are tested on the adapter).
SIDES = [(port, side) for port, (_, fake) in IMPLEMENTATIONS.items() for side in ("adapter", "fake")[: 1 + bool(fake)]]


@pytest.mark.parametrize(("port", "side"), SIDES, ids=[f"{p.__name__}-{s}" for p, s in SIDES])
def test_implementations_offer_every_method_of_their_port(port: type, side: str) -> None:
    path, fake = IMPLEMENTATIONS[port]
    implementation = adapter_class(path) if side == "adapter" else fake
    assert implementation is not None
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
