"""The behavioural contract of the artist directory (`albums_core.ports.ArtistDirectory`), run
against the fake (tests/fakes/artists.py) and the catalogue adapter on moto: reads by DID and by
handle, and the one-time backfill of an old artist item's times."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.domain.models import Album, Artist
from tests.fakes.artists import FakeArtists

DID = "did:plc:directory000000000000001"
FIRST_SEEN = "2025-05-05T05:05:05.000Z"


@dataclass
class Directory:
    artists: Any

    @property
    def fake(self) -> bool:
        return isinstance(self.artists, FakeArtists)

    def put(self, artist: Artist) -> None:
        if self.fake:
            self.artists.put(artist)
        else:
            self.artists.put_artist(artist)

    def seen_since(self, did: str, when: str) -> None:
        """The artist's earliest album was created at `when`."""
        if self.fake:
            self.artists.first_seen[did] = when
        else:
            album = Album(id=f"album-{when}", artist_did=did, slug=f"old-{when[:4]}", title="Old", created_at=when)
            self.artists.create_album(album, "old.test")


@pytest.fixture(params=["fake", "dynamodb"])
def directory(request: pytest.FixtureRequest) -> Directory:
    if request.param == "fake":
        return Directory(FakeArtists())
    request.getfixturevalue("aws_env")
    return Directory(CatalogueWriter())


def test_reads(directory: Directory) -> None:
    artist = Artist(DID, "someone.test", "Someone", None, "https://pds.example", created_at="2026-01-01T00:00:00.000Z")
    assert directory.artists.get_artist(DID) is None
    assert directory.artists.get_artist_by_handle("someone.test") is None
    directory.put(artist)
    assert directory.artists.get_artist(DID) == artist
    assert directory.artists.get_artist_by_handle("someone.test") == artist
    assert directory.artists.get_artist_by_handle("other.test") is None


def test_backfill_of_an_artist_without_times(directory: Directory) -> None:
    old = Artist(DID, "someone.test", "Someone", None, "https://pds.example")
    directory.put(old)
    directory.seen_since(DID, FIRST_SEEN)
    filled = directory.artists.backfill_artist_times(old)
    assert (filled.created_at, filled.updated_at) == (FIRST_SEEN, FIRST_SEEN)
    for stored in (directory.artists.get_artist(DID), directory.artists.get_artist_by_handle("someone.test")):
        assert stored is not None and (stored.created_at, stored.updated_at) == (FIRST_SEEN, FIRST_SEEN)
    # Once only: a later backfill keeps the times written.
    directory.seen_since(DID, "2024-01-01T00:00:00.000Z")
    again = directory.artists.backfill_artist_times(old)
    assert again.created_at == FIRST_SEEN


def test_backfill_keeps_times_already_there(directory: Directory) -> None:
    artist = Artist(
        DID,
        "someone.test",
        "Someone",
        None,
        "https://pds.example",
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-02-01T00:00:00.000Z",
    )
    directory.put(artist)
    directory.seen_since(DID, FIRST_SEEN)
    assert directory.artists.backfill_artist_times(artist) == artist
    assert directory.artists.get_artist(DID) == artist


def test_backfill_leaves_a_handle_another_artist_holds(directory: Directory) -> None:
    old = Artist(DID, "someone.test", "Someone", None, "https://pds.example")
    holder = Artist("did:plc:holder00000000000000001", "someone.test", "Holder", None, "https://pds.example")
    directory.put(old)
    directory.put(holder)  # the handle moved on to another artist
    directory.seen_since(DID, FIRST_SEEN)
    directory.artists.backfill_artist_times(old)
    profile = directory.artists.get_artist_by_handle("someone.test")
    assert profile is not None and profile.did == holder.did and not profile.created_at
