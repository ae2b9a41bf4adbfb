"""The artist profile (GET /artists/by-handle/{handle}, GET /artists/{did}) on in-memory fakes:
what matches, what is 404, the cache (one call on a hit) and the times of older artists."""

from __future__ import annotations

import json

import pytest

from albums_core.adapters.dynamodb.page_cache import artist_cache_keys
from albums_core.domain.errors import ArtistNotFound
from albums_core.domain.models import Artist
from albums_core.services.artist_profiles import ArtistProfiles
from tests.fakes import FakeArtists, FakePageCache

DID = "did:plc:aurora" + "a" * 18
AURORA = Artist(
    did=DID,
    handle="aurora.test",
    display_name="Aurora Lane",
    avatar_url="https://cdn.example.com/a.png",
    pds_url="https://pds.example",
    bio="Ambient things.",
    created_at="2026-01-02T03:04:05.000Z",
    updated_at="2026-02-03T04:05:06.000Z",
)


class CountingCache(FakePageCache):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def get(self, key: str) -> str | None:
        self.calls += 1
        return super().get(key)

    def put(self, key: str, body: str, read_started_ms: int) -> bool:
        self.calls += 1
        return super().put(key, body, read_started_ms)


@pytest.fixture
def world() -> tuple[ArtistProfiles, FakeArtists, CountingCache]:
    artists, cache = FakeArtists(), CountingCache()
    artists.put(AURORA)
    return ArtistProfiles(artists, cache), artists, cache


def test_the_profile_has_the_web_apps_shape(world: tuple[ArtistProfiles, FakeArtists, CountingCache]) -> None:
    profiles, _, _ = world
    assert json.loads(profiles.by_handle("aurora.test")) == {
        "did": DID,
        "handle": "aurora.test",
        "display_name": "Aurora Lane",
        "bio": "Ambient things.",
        "avatar_url": "https://cdn.example.com/a.png",
        "created_at": "2026-01-02T03:04:05.000Z",
        "updated_at": "2026-02-03T04:05:06.000Z",
        "show_liked_on_profile": False,
        "support_url": None,
    }
    assert json.loads(profiles.by_did(DID)) == json.loads(profiles.by_handle("aurora.test"))


def test_a_handle_matches_in_any_case_and_a_did_only_exactly(
    world: tuple[ArtistProfiles, FakeArtists, CountingCache],
) -> None:
    profiles, _, _ = world
    for handle in ("Aurora.Test", "AURORA.TEST", "@aurora.test"):
        assert json.loads(profiles.by_handle(handle))["did"] == DID
    for bad in (DID, "nobody.test", "", "not a handle", "a" * 300 + ".test", "did:plc:", "..", "%00"):
        with pytest.raises(ArtistNotFound) as caught:
            profiles.by_handle(bad)
        assert (caught.value.status, caught.value.detail) == (404, "artist not found")
    for bad in (DID.upper(), DID + "x", "aurora.test", "did:plc:unknownunknownunknown1", "", "did:", "did:foo:bar"):
        with pytest.raises(ArtistNotFound):
            profiles.by_did(bad)


def test_a_cache_hit_is_one_call_and_a_change_of_the_artist_is_seen_after_invalidation(
    world: tuple[ArtistProfiles, FakeArtists, CountingCache],
) -> None:
    profiles, artists, cache = world
    profiles.by_handle("aurora.test")
    artists.calls = cache.calls = 0
    assert json.loads(profiles.by_handle("Aurora.test"))["bio"] == "Ambient things."
    assert (artists.calls, cache.calls) == (0, 1)
    profiles.by_did(DID)
    artists.calls = cache.calls = 0
    profiles.by_did(DID)
    assert (artists.calls, cache.calls) == (0, 1)
    # A login rewrites the artist item; the catalogue drops both cached forms.
    artists.put(AURORA.__class__(**{**AURORA.__dict__, "bio": "New bio."}))
    for key in artist_cache_keys(DID, "aurora.test"):
        cache.invalidate(key)
    assert json.loads(profiles.by_handle("aurora.test"))["bio"] == "New bio."
    assert json.loads(profiles.by_did(DID))["bio"] == "New bio."


def test_an_artist_without_a_handle_pointer_is_not_found_by_did(
    world: tuple[ArtistProfiles, FakeArtists, CountingCache],
) -> None:
    profiles, artists, _ = world
    del artists.by_handle["aurora.test"]  # an inactive account: its pointer is gone
    with pytest.raises(ArtistNotFound):
        profiles.by_did(DID)


def test_an_artist_indexed_before_times_gets_the_earliest_of_its_records_or_now() -> None:
    artists, cache = FakeArtists(now=lambda: "2026-07-01T00:00:00.000Z"), CountingCache()
    old = Artist(did="did:plc:olderolderolderolderolde", handle="older.test", display_name="Older")
    new = Artist(did="did:plc:emptyemptyemptyemptyempt", handle="empty.test", display_name="Empty")
    artists.put(old)
    artists.put(new)
    artists.first_seen[old.did] = "2025-05-05T05:05:05.000Z"
    profiles = ArtistProfiles(artists, cache)
    first = json.loads(profiles.by_handle("older.test"))
    assert (first["created_at"], first["updated_at"], first["bio"]) == (
        "2025-05-05T05:05:05.000Z",
        "2025-05-05T05:05:05.000Z",
        None,
    )
    assert artists.by_did[old.did].created_at == "2025-05-05T05:05:05.000Z"  # written once, kept
    assert json.loads(profiles.by_did(new.did))["created_at"] == "2026-07-01T00:00:00.000Z"
