"""The behavioural contract of live ingestion's ports (albums_core.ports.firehose), each run
against its fake (tests/fakes/firehose.py) and its DynamoDB adapter on moto: the lease and
cursor checkpoint, the state per repository, and the catalogue as the consumer uses it."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import pytest

from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.firehose_lease import FirehoseLeases
from albums_core.adapters.dynamodb.jobs import CleanupJobs
from albums_core.adapters.dynamodb.repo_state import RepoStates
from albums_core.domain.models import Album, Artist, Track
from tests.fakes.firehose import FakeFirehoseCatalogue, FakeLeases, FakeRepoStates

DID = "did:plc:firehosecontract000000001"
RELAY = "relay.example"


@dataclass
class World:
    """One implementation of the ports on one catalogue, and how a test seeds and reads it."""

    catalogue: Any
    leases: Any
    repos: Any

    @property
    def fake(self) -> bool:
        return isinstance(self.catalogue, FakeFirehoseCatalogue)

    def add_album(self, album: Album, tracks: list[Track]) -> list[Track]:
        """An album with its tracks, listed while it has any."""
        if self.fake:
            return list(self.catalogue.add_album(album, tracks))
        counted = replace(album, track_count=len(tracks), total_plays=sum(t.play_count for t in tracks))
        self.catalogue.create_album(counted, "artist.test")
        return list(self.catalogue.add_new_tracks([replace(t, album_id=album.id) for t in tracks]))

    def listed(self) -> set[str]:
        if self.fake:
            return set(self.catalogue.listed)
        return {a.id for a in self.catalogue.listed_albums_page(100, None)[0]}

    def album(self, album_id: str) -> Album | None:
        if self.fake:
            return self.catalogue.albums.get(album_id)
        return self.catalogue.get_album(album_id)


@pytest.fixture(params=["fake", "dynamodb"])
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "fake":
        catalogue = FakeFirehoseCatalogue()
        return World(catalogue, FakeLeases(clock=time.time), FakeRepoStates(catalogue))
    request.getfixturevalue("aws_env")
    writer = CatalogueWriter()
    return World(writer, FirehoseLeases(writer), RepoStates(writer))


def track(world: World, rkey: str, created: str = "2026-02-01T00:00:00Z", plays: int = 0) -> Track:
    track_id = world.catalogue.reserve_track_ids(1)[0]
    return Track(
        id=track_id,
        title=f"Track {rkey}",
        artist_did=DID,
        file_id=f"file-{rkey}",
        file_type="mp3",
        created_at=created,
        record_uri=f"at://{DID}/fm.plyr.track/{rkey}",
        record_cid=f"bafy{rkey}",
        play_count=plays,
    )


def album(album_id: str = "al1") -> Album:
    return Album(id=album_id, artist_did=DID, slug=album_id, title=album_id.upper(), created_at="2026-01-01")


# ---- the lease and cursor ------------------------------------------------------------------------


def test_lease_acquire_checkpoint_release(world: World) -> None:
    leases = world.leases
    first = leases.acquire(RELAY, "one", 60)
    assert first is not None and (first.holder, first.cursor) == ("one", None)
    assert leases.acquire(RELAY, "two", 60) is None  # held
    again = leases.acquire(RELAY, "one", 60)  # its own: renewed
    assert again is not None and again.holder == "one"
    assert leases.checkpoint(RELAY, "one", 42, 60) is True
    assert leases.checkpoint(RELAY, "two", 43, 60) is False  # not the holder
    leases.release(RELAY, "two")  # not the holder: nothing
    assert leases.acquire(RELAY, "two", 60) is None
    leases.release(RELAY, "one")
    taken = leases.acquire(RELAY, "two", 60)
    assert taken is not None and (taken.holder, taken.cursor) == ("two", 42)  # the cursor stays
    assert leases.checkpoint(RELAY, "one", 99, 60) is False
    assert leases.checkpoint(RELAY, "two", None, 60) is True  # no cursor: the next starts live
    leases.release(RELAY, "two")
    later = leases.acquire(RELAY, "three", 60)
    assert later is not None and later.cursor is None


def test_an_expired_lease_passes_on(world: World) -> None:
    leases = world.leases
    assert leases.acquire(RELAY, "one", -5) is not None
    taken = leases.acquire(RELAY, "two", 60)
    assert taken is not None and taken.holder == "two"
    assert leases.checkpoint(RELAY, "one", 7, 60) is False  # the old holder must stop
    assert leases.checkpoint(RELAY, "never", 7, 60) is False
    assert leases.checkpoint("other.relay", "two", 7, 60) is False  # no lease there at all


# ---- the state per repository ----------------------------------------------------------------------


def _state(world: World, did: str) -> dict[str, Any]:
    # The adapter's item carries its keys; the state is the rest.
    return {k: v for k, v in world.repos.repo_state(did).items() if k not in ("pk", "sk")}


def test_repo_rev_never_moves_back(world: World) -> None:
    assert _state(world, DID) == {}
    world.repos.set_repo_rev(DID, "3kaaa")
    assert _state(world, DID) == {"rev": "3kaaa"}
    world.repos.set_repo_rev(DID, "3jzzz")
    assert _state(world, DID) == {"rev": "3kaaa"}
    world.repos.set_repo_rev(DID, "3kaab")
    assert _state(world, DID) == {"rev": "3kaab"}


def test_repo_hidden(world: World) -> None:
    world.repos.set_repo_rev(DID, "3kaaa")
    world.repos.set_hidden(DID, True, None)
    assert _state(world, DID) == {"rev": "3kaaa", "hidden": True, "account_status": "inactive"}
    world.repos.set_hidden(DID, True, "takendown")
    assert _state(world, DID)["account_status"] == "takendown"
    world.repos.set_hidden(DID, False, None)
    assert _state(world, DID) == {"rev": "3kaaa"}
    world.repos.set_hidden("did:plc:fresh", False, None)
    assert _state(world, "did:plc:fresh") == {}


def test_unlist_and_relist(world: World) -> None:
    world.add_album(album("full"), [track(world, "a")])
    world.add_album(album("empty"), [])
    assert world.listed() == {"full"}
    world.repos.unlist_album("full")
    world.repos.unlist_album("none-such")  # gone: nothing
    assert world.listed() == set()
    world.repos.relist_album(album("full"))
    world.repos.relist_album(album("empty"))  # no tracks: stays out
    world.repos.relist_album(album("none-such"))
    assert world.listed() == {"full"}


# ---- the catalogue as the consumer uses it -------------------------------------------------------


def test_artists(world: World) -> None:
    assert world.catalogue.get_artist(DID) is None
    artist = Artist(DID, "artist.test", "Artist", None, "https://pds.example")
    world.catalogue.upsert_artist(artist)
    stored = world.catalogue.get_artist(DID)
    assert stored is not None and (stored.did, stored.handle, stored.display_name) == (DID, "artist.test", "Artist")


def test_new_tracks_and_their_reads(world: World) -> None:
    cat = world.catalogue
    late = track(world, "a", created="2026-03-01T00:00:00Z")
    early = track(world, "b", created="2026-01-01T00:00:00Z")
    assert cat.add_new_tracks([late, early]) == [late, early]
    # By creation time, as the artist's track index orders them.
    assert [t.id for t in cat.artist_tracks(DID)] == [early.id, late.id]
    assert cat.find_track(late.id) == late
    assert cat.find_track(10**9) is None
    # A record that has a track already: that one is answered, nothing is written.
    again = replace(track(world, "a"), title="Other")
    assert cat.add_new_tracks([again]) == [late]
    assert len(cat.artist_tracks(DID)) == 2
    assert cat.artist_tracks("did:plc:nobody") == []
    ids = cat.reserve_track_ids(3)
    assert len(ids) == 3 and ids[0] > again.id


def test_artist_albums(world: World) -> None:
    world.add_album(album("one"), [track(world, "a")])
    world.add_album(album("two"), [])
    assert sorted(a.id for a in world.catalogue.artist_albums(DID)) == ["one", "two"]
    assert world.catalogue.artist_albums("did:plc:nobody") == []


def test_update_track_record(world: World) -> None:
    cat = world.catalogue
    [held] = world.add_album(album(), [track(world, "a", plays=3)])
    after = replace(held, title="Renamed", record_cid="bafynew", play_count=0, album_id=None)
    assert cat.update_track_record(held, after) is True
    stored = cat.find_track(held.id)
    assert stored is not None
    # The record's fields change; counters and the album stay as the item has them.
    assert (stored.title, stored.record_cid, stored.play_count, stored.album_id) == ("Renamed", "bafynew", 3, "al1")
    # Read before that change (the old CID): refused.
    assert cat.update_track_record(held, replace(after, title="Stale")) is False
    # Read where it no longer is (standalone): refused.
    assert cat.update_track_record(replace(stored, album_id=None), replace(after, title="Elsewhere")) is False
    found = cat.find_track(held.id)
    assert found is not None and found.title == "Renamed"


def test_update_track_record_without_a_cid(world: World) -> None:
    cat = world.catalogue
    [held] = cat.add_new_tracks([replace(track(world, "a"), record_cid=None)])
    assert cat.update_track_record(held, replace(held, title="T2", record_cid="bafy2")) is True
    # Read when it had no CID, but it has one now.
    assert cat.update_track_record(held, replace(held, title="T3", record_cid="bafy3")) is False


def test_drop_track(world: World) -> None:
    cat = world.catalogue
    kept, dropped = world.add_album(album(), [track(world, "a", plays=1), track(world, "b", plays=4)])
    assert cat.drop_track(dropped) is True
    assert cat.find_track(dropped.id) is None
    stored = world.album("al1")
    assert stored is not None and (stored.track_count, stored.total_plays) == (1, 1)
    assert cat.drop_track(dropped) is False  # gone already
    assert cat.drop_track(replace(kept, album_id=None)) is False  # not where it was read
    [loose] = cat.add_new_tracks([track(world, "c")])
    assert cat.drop_track(loose) is True
    # A new track of the dropped record can be added again (its guard went with it).
    fresh = track(world, "c")
    assert cat.add_new_tracks([fresh]) == [fresh]


def test_drop_track_of_an_album_that_went(world: World) -> None:
    """A track still in the partition of an album deleted meanwhile (its cleanup running): the
    counters' update cannot apply, so the adapter's transaction refuses the whole drop."""
    cat = world.catalogue
    [held] = world.add_album(album(), [track(world, "a")])
    if world.fake:
        del cat.albums["al1"]
    else:
        cat.delete_album_items(album(), "artist.test")
    assert cat.drop_track(held) is False
    assert cat.find_track(held.id) is not None


def test_unlist_if_empty(world: World) -> None:
    cat = world.catalogue
    [only] = world.add_album(album(), [track(world, "a")])
    cat.unlist_if_empty("al1")
    assert world.listed() == {"al1"}
    assert cat.drop_track(only) is True
    assert world.listed() == {"al1"}  # the counters went to 0, the listing stayed
    cat.unlist_if_empty("al1")
    assert world.listed() == set()
    cat.unlist_if_empty("none-such")


def test_a_list_whose_album_our_api_deleted_is_not_created(world: World) -> None:
    """hand_over leaves a tombstone: the list's create commit, coming after, writes nothing."""
    gone = album("gone1")
    if world.fake:
        world.catalogue.gone.add(gone.id)  # what FakeDeletionJobs.hand_over marks
    else:
        world.catalogue.create_album(gone, "artist.test")
        job = {"job_id": "j1", "status": "parked", "artist_did": DID, "album_id": gone.id}
        CleanupJobs(world.catalogue).hand_over(gone, "artist.test", job)
    assert world.catalogue.apply_album_list(None, gone, "artist.test", []) is False
    assert world.album(gone.id) is None and gone.id not in world.listed()
    # Another album's list is created as before.
    assert world.catalogue.apply_album_list(None, album("kept1"), "artist.test", []) is True
