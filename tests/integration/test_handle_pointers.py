"""The handle pointer's moves in the catalogue (moto): conditional claims, the previous
holder's items in the same write, catalogues larger than one transaction. Handle
verification itself is tested against the real PDS in test_handle_trust.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters.dynamodb import catalogue as repository
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.domain.models import Artist
from tests.integration.factory import make_album, make_artist


def pointer_holder(repo: CatalogueRepository, handle: str) -> str | None:
    artist = repo.get_artist_by_handle(handle)
    return artist.did if artist else None


def test_a_taken_handle_moves_every_album_pointer_of_the_previous_holder(
    repo: CatalogueRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "_MAX_TRANSACTION", 10)  # moto is slow with 100-item transactions
    first = make_artist(repo, "aurora.test")
    albums = [make_album(repo, first, f"Record {n:02d}")[0] for n in range(12)]  # > one transaction
    second = Artist("did:plc:" + "s" * 24, "aurora.test", "Second")

    CatalogueWriter().upsert_artist(second)

    assert pointer_holder(repo, "aurora.test") == second.did
    assert repo.get_artist(first.did).handle == first.did  # type: ignore[union-attr]
    assert pointer_holder(repo, first.did) == first.did
    for album in albums:
        assert repo.load_album_by_slug("aurora.test", album.slug) is None
        loaded = repo.load_album_by_slug(first.did, album.slug)
        assert loaded is not None and loaded[1].id == album.id
    leftovers = repo.client.query(
        TableName=repo.table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "HANDLE#aurora.test"}},
        ConsistentRead=True,
    )["Items"]
    assert [i["sk"]["S"] for i in leftovers] == ["PROFILE"]


class RacedWriter(CatalogueWriter):
    """Lets a rival claim land between this writer's reads and its transaction, once."""

    def __init__(self, rival: Artist) -> None:
        super().__init__()
        self.rival: Artist | None = rival

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            CatalogueWriter().upsert_artist(rival)
        super()._transact(actions)


def test_a_claim_is_conditional_on_the_holder_it_read(repo: CatalogueRepository) -> None:
    holder = make_artist(repo, "aurora.test")
    rival = Artist("did:plc:" + "r" * 24, "aurora.test", "Rival")
    late = Artist("did:plc:" + "l" * 24, "aurora.test", "Late")

    RacedWriter(rival).upsert_artist(late)  # read the holder, lost to the rival, re-read, won

    assert pointer_holder(repo, "aurora.test") == late.did
    handles = {a.did: repo.get_artist(a.did).handle for a in (holder, rival, late)}  # type: ignore[union-attr]
    assert handles == {holder.did: holder.did, rival.did: rival.did, late.did: "aurora.test"}


def test_an_artist_moving_to_its_did_frees_its_handle(repo: CatalogueRepository) -> None:
    artist = Artist("did:plc:" + "a" * 24, "aurora.test", "Aurora")  # a well-formed did:plc
    repo.put_artist(artist)
    album, _ = make_album(repo, artist, "Kept")

    CatalogueWriter().upsert_artist(replace(artist, handle=artist.did))

    assert pointer_holder(repo, "aurora.test") is None
    assert repo.load_album_by_slug("aurora.test", album.slug) is None
    loaded = repo.load_album_by_slug(artist.did, album.slug)
    assert loaded is not None and loaded[1].id == album.id
    # GET /albums/{did} lists it
    assert [a["id"] for a in bootstrap.listings().list_artist_albums(artist.did)["albums"]] == [album.id]
