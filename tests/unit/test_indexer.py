"""Indexing (services/indexer.py, index_run.py, index_reading.py) on in-memory fakes: an
artist's track and list records brought into the catalogue, only differences written, records
we cannot store skipped and counted, a run cut by its budget handing the rest to a job, and a
repository over the record cap. The same against moto and the local PDS is in
tests/integration; these open no connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from albums_core import config
from albums_core.domain.models import Artist
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.records import LIST, TRACK, album_id_for
from albums_core.services.indexer import INDEX_JOB, UNTITLED, Indexing
from tests.fakes import FakePageCache
from tests.fakes.indexing import FakeIndexCatalogue, FakeReader
from tests.fakes.jobs import FakeJobQueue

DID = "did:plc:indexedartist000000000"
ARTIST = Artist(DID, "artist.test", "Artist", pds_url="https://pds.example")


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    config.settings.cache_clear()
    yield
    config.settings.cache_clear()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self) -> None:
        self.repo = FakeIndexCatalogue()
        self.repo.artists[DID] = ARTIST
        self.reader = FakeReader()
        self.cache = FakePageCache()
        self.jobs = FakeJobQueue()
        self.indexing = Indexing(self.repo, self.reader, self.cache, self.jobs)

    def track(self, rkey: str, title: str, **fields: Any) -> str:
        value = {"$type": TRACK, "title": title, "artist": "Artist", "createdAt": f"2026-01-0{rkey[-1]}T00:00:00Z"}
        return self.reader.put(DID, TRACK, rkey, {**value, **fields})

    def album(self, rkey: str, name: str, uris: list[str]) -> str:
        value = {
            "$type": LIST,
            "listType": "album",
            "name": name,
            "items": [{"subject": {"uri": u, "cid": "bafy"}} for u in uris],
            "createdAt": "2026-02-01T00:00:00Z",
        }
        return self.reader.put(DID, LIST, rkey, value)

    def index(self, budget: ReadBudget | None = None) -> dict[str, int]:
        return self.indexing.sync_artist(ARTIST, budget)


@pytest.fixture
def world() -> World:
    return World()


def test_new_records_become_an_album_and_tracks_in_the_list_order(world: World) -> None:
    one = world.track("t1", "One")
    two = world.track("t2", "Two")
    loose = world.track("t3", "Loose")
    list_uri = world.album("l1", "First Album", [two, one])

    counts = world.index()

    assert counts["albums_created"] == 1 and counts["tracks_created"] == 3
    album = world.repo.albums[album_id_for(list_uri)]
    assert (album.title, album.slug, album.track_order) == ("First Album", "first-album", [two, one])
    assert album.track_count == 2  # recounted from the tracks written into it
    assert world.repo.by_uri(one).album_id == album.id  # type: ignore[union-attr]
    assert world.repo.by_uri(loose).album_id is None  # type: ignore[union-attr]
    assert DID in world.repo.synced  # read whole: marked synced


def test_a_second_run_writes_nothing(world: World) -> None:
    one = world.track("t1", "One")
    world.album("l1", "Album", [one])
    world.index()
    world.repo.journal.clear()

    counts = world.index()

    assert not any(counts.values())
    assert world.repo.journal.of("catalogue") == []


def test_changed_and_deleted_records_are_followed(world: World) -> None:
    one = world.track("t1", "One")
    two = world.track("t2", "Two")
    list_uri = world.album("l1", "Album", [one, two])
    world.index()
    album_id = album_id_for(list_uri)

    world.track("t1", "One (remastered)")
    world.reader.delete(two)
    world.album("l1", "Renamed", [one])
    counts = world.index()

    assert (counts["tracks_updated"], counts["tracks_removed"], counts["albums_updated"]) == (1, 1, 1)
    assert world.repo.by_uri(one).title == "One (remastered)"  # type: ignore[union-attr]
    assert world.repo.by_uri(two) is None
    album = world.repo.albums[album_id]
    assert (album.title, album.slug, album.track_count) == ("Renamed", "renamed", 1)
    assert world.cache.album_key(ARTIST.handle, "album") in world.cache.invalidated

    world.reader.delete(list_uri)
    counts = world.index()

    assert counts["albums_removed"] == 1 and album_id not in world.repo.albums
    assert world.repo.by_uri(one).album_id is None  # type: ignore[union-attr]  # standalone again


def test_a_track_in_two_lists_belongs_to_the_first_created(world: World) -> None:
    shared = world.track("t1", "Shared")
    first = world.album("l1", "First", [shared])
    world.reader.repos[(DID, LIST)]["l1"].value["createdAt"] = "2026-01-01T00:00:00Z"
    second = world.album("l2", "Second", [shared])

    world.index()

    assert world.repo.by_uri(shared).album_id == album_id_for(first)  # type: ignore[union-attr]
    assert world.repo.albums[album_id_for(second)].track_order == []


def test_records_we_cannot_store_are_skipped_and_counted(world: World) -> None:
    good = world.track("t1", "Good")
    world.reader.put(DID, TRACK, "t2", {"$type": TRACK, "title": ""})  # no valid title
    world.reader.put(DID, TRACK, "t3", {"$type": LIST, "title": "wrong type"})
    world.reader.put(DID, LIST, "l1", {"$type": LIST, "listType": "album", "name": "x"})  # no items
    world.reader.put(DID, LIST, "l2", {"$type": LIST, "listType": "playlist", "items": []})  # not ours

    counts = world.index()

    assert counts["skipped_invalid"] == 3  # the playlist is not counted: not an album
    assert counts["tracks_created"] == 1 and world.repo.by_uri(good) is not None
    assert world.repo.albums == {}


def test_an_album_without_a_usable_name_is_untitled(world: World) -> None:
    world.album("l1", "   ", [])
    world.index()
    assert [a.title for a in world.repo.albums.values()] == [UNTITLED]


def test_a_run_cut_by_its_budget_requests_a_job_that_goes_on(world: World) -> None:
    uris = [world.track(f"t{i}", f"Track {i}") for i in range(1, 6)]
    clock = Clock()

    def slow_write() -> None:
        clock.now += 3.0

    world.repo.before_save = slow_write
    out = world.indexing.index(ARTIST, ReadBudget(10.0, clock=clock))

    assert not out.complete and out.job is not None
    assert 0 < out.counts["tracks_created"] < len(uris)
    job = world.jobs.jobs[out.job]
    assert (job["kind"], job["artist_did"], job["status"]) == (INDEX_JOB, DID, "pending")
    assert DID not in world.repo.synced  # not read and written whole

    world.repo.before_save = None
    assert world.indexing.run_backfill(out.job, ReadBudget(None)) == "done"
    assert all(world.repo.by_uri(u) is not None for u in uris)
    assert out.job not in world.jobs.jobs and world.jobs.jobs == {}
    assert world.indexing.run_backfill(out.job) == "gone"  # a stream record delivered again


def test_a_listing_in_several_calls_is_whole_and_marks_synced(world: World) -> None:
    world.reader.page = 2
    for i in range(1, 6):
        world.track(f"t{i}", f"Track {i}")
    counts = world.index()
    assert counts["tracks_created"] == 5 and DID in world.repo.synced
    assert len([c for c in world.reader.calls if c[0] == TRACK]) == 3


def test_over_the_record_cap_the_artist_is_marked_and_nothing_removed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = world.track("t1", "Old")
    world.index()
    world.repo.synced.clear()
    for i in range(2, 6):
        world.track(f"t{i}", f"Track {i}")
    monkeypatch.setenv("PDS_LIST_MAX_RECORDS", "3")
    config.settings.cache_clear()

    out = world.indexing.index(ARTIST)

    assert world.repo.over_cap[DID] == [TRACK]
    assert out.counts["tracks_created"] == 3 and out.counts["tracks_removed"] == 0
    assert world.repo.by_uri(kept) is not None  # not listed, but the read was not whole
    assert DID not in world.repo.synced  # the rest of the repository is not in the catalogue
    assert out.job is None  # nothing more to read within the cap


def test_a_job_id_is_requested_at_most_once(world: World) -> None:
    assert world.indexing.request_backfill(ARTIST, job_id="once") == "once"
    assert world.indexing.request_backfill(ARTIST, job_id="once") is None
