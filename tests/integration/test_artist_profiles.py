"""The artist profile against moto (and the real local PDS for the bio): the artist item's
times kept by every upsert, older artists' times backfilled, the cached profile dropped when
the artist item changes."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from albums_core import bootstrap
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.domain.errors import ArtistNotFound
from albums_core.domain.models import Artist
from tests.integration.factory import make_album, make_artist
from tests.integration.write_fixtures import PASSWORDS
from tests.integration.write_fixtures import Artist as LoggedIn

DID = "did:plc:" + "p" * 24


def test_upserts_keep_created_and_move_updated_only_on_a_change(repo: CatalogueRepository) -> None:
    writer = CatalogueWriter()
    writer.upsert_artist(Artist(DID, "prof.test", "Prof", bio="one"))
    first = repo.get_artist(DID)
    assert first is not None and first.created_at and first.updated_at == first.created_at
    writer.upsert_artist(Artist(DID, "prof.test", "Prof", bio="one"))  # a login changing nothing
    assert repo.get_artist(DID) == first
    writer.upsert_artist(Artist(DID, "prof.test", "Prof", bio="two"))
    second = repo.get_artist(DID)
    assert second is not None and second.bio == "two"
    assert second.created_at == first.created_at and second.updated_at and second.updated_at > first.created_at
    assert repo.get_artist_by_handle("prof.test") == second  # the handle's copy too


def test_an_artist_indexed_before_times_gets_the_earliest_of_its_albums_and_tracks(repo: CatalogueRepository) -> None:
    older = make_artist(repo, "older.test")  # written without times, as before this change
    make_album(repo, older, "Old Record", tracks=2)  # album 2026-01-01, tracks 2026-02-0x
    profile = json.loads(bootstrap.artist_profiles().by_handle("older.test"))
    assert profile["created_at"] == profile["updated_at"] == "2026-01-01T00:00:00.000Z"
    assert repo.get_artist(older.did).created_at == "2026-01-01T00:00:00.000Z"  # type: ignore[union-attr]
    # And a login of such an artist keeps that time.
    plain = make_artist(repo, "plain.test")
    make_album(repo, plain, "Plain Record", tracks=1)
    CatalogueWriter().upsert_artist(replace(plain, display_name="Plain, renamed"))
    assert repo.get_artist(plain.did).created_at == "2026-01-01T00:00:00.000Z"  # type: ignore[union-attr]
    none = make_artist(repo, "none.test")
    assert json.loads(bootstrap.artist_profiles().by_did(none.did))["created_at"].endswith("Z")


def test_the_cached_profile_is_dropped_when_the_artist_item_changes(repo: CatalogueRepository) -> None:
    writer = CatalogueWriter()
    writer.upsert_artist(Artist(DID, "cached.test", "Cached", bio="before"))
    profiles = bootstrap.artist_profiles()
    assert json.loads(profiles.by_handle("cached.test"))["bio"] == "before"
    assert json.loads(profiles.by_did(DID))["bio"] == "before"
    writer.upsert_artist(Artist(DID, "cached.test", "Cached", bio="after"))
    assert json.loads(profiles.by_handle("Cached.Test"))["bio"] == "after"
    assert json.loads(profiles.by_did(DID))["bio"] == "after"
    # The handle moves to another DID: the old holder falls back to its DID.
    other = "did:plc:" + "q" * 24
    writer.upsert_artist(Artist(other, "cached.test", "Newcomer"))
    assert json.loads(profiles.by_handle("cached.test"))["did"] == other
    assert json.loads(profiles.by_did(DID))["handle"] == DID
    with pytest.raises(ArtistNotFound):
        profiles.by_handle(DID)  # a DID is never a handle


def _drop_profile(alice: LoggedIn) -> None:
    if alice.exists(f"at://{alice.did}/app.bsky.actor.profile/self"):
        delete = {
            "$type": "com.atproto.repo.applyWrites#delete",
            "collection": "app.bsky.actor.profile",
            "rkey": "self",
        }
        alice.pds.apply_writes([delete], swap_commit=None)


def test_login_reads_the_bio_from_the_profile_record(alice: LoggedIn) -> None:
    _drop_profile(alice)
    bootstrap.auth().login("alice.test", PASSWORDS["alice.test"])
    assert json.loads(bootstrap.artist_profiles().by_handle("alice.test"))["bio"] is None
    alice.pds.create_record(
        "app.bsky.actor.profile",
        {"$type": "app.bsky.actor.profile", "displayName": "Alice A.", "description": "  Songs from the shore.  "},
        rkey="self",
    )
    try:
        bootstrap.auth().login("alice.test", PASSWORDS["alice.test"])
        profile = json.loads(bootstrap.artist_profiles().by_did(alice.did))
        assert (profile["display_name"], profile["bio"]) == ("Alice A.", "Songs from the shore.")
    finally:
        _drop_profile(alice)
