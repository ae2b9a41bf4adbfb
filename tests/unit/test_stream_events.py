"""StreamEvents (services/stream_events.py) on in-memory fakes: what each record of the
catalogue stream calls for. A removed album drops its pages (current and former slugs) and an
unreferenced cover; track changes drop their albums' pages once per batch; pending job items
run the job of their kind (cleanup, index, like re-read); a failure is retried until its last
attempt, then dead-lettered. Against moto: tests/integration; these open no connection."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from albums_core.domain.models import Album, Artist
from albums_core.domain.records import TRACK
from albums_core.services import stream_events
from albums_core.services.indexer import INDEX_JOB, Indexing
from albums_core.services.stream_events import MAX_ATTEMPTS, PageInvalidations, StreamEvents
from tests.fakes import FakeCoverStore, FakePageCache
from tests.fakes.indexing import FakeIndexCatalogue, FakeReader
from tests.fakes.jobs import FakeJobQueue
from tests.fakes.stream import FakeStreamPlumbing, stream_record

DID = "did:plc:streamartist00000000000"
ARTIST = Artist(DID, "artist.test", "Artist", pds_url="https://pds.example")
IMAGE = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def forget_removed_albums(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The container-wide memory of removed albums, fresh for each test.
    monkeypatch.setattr(PageInvalidations, "_gone", {})
    yield


class Cleanup:
    def __init__(self) -> None:
        self.ran: list[str] = []

    def run_job(self, job_id: str) -> str:
        self.ran.append(job_id)
        return "cleaned"


class World:
    def __init__(self) -> None:
        self.repo = FakeIndexCatalogue()
        self.repo.artists[DID] = ARTIST
        self.cache = FakePageCache()
        self.objects = FakeCoverStore()
        self.plumbing = FakeStreamPlumbing()
        self.cleanup = Cleanup()
        self.jobs = FakeJobQueue()
        self.reader = FakeReader()
        self.rereads: list[str] = []
        self.indexing = Indexing(self.repo, self.reader, self.cache, self.jobs)
        self.events = StreamEvents(
            self.repo,
            self.cache,
            self.objects,
            self.plumbing,
            self.cleanup,  # type: ignore[arg-type]
            self.indexing,
            self.reread,
        )

    def reread(self, job_id: str) -> str:
        self.rereads.append(job_id)
        return "reread"

    def album(self, album_id: str, slug: str, **fields: Any) -> Album:
        album = Album(id=album_id, artist_did=DID, slug=slug, title=slug, **fields)
        self.repo.create_album(album, ARTIST.handle)
        return album

    def page(self, slug: str) -> str:
        return self.cache.album_key(ARTIST.handle, slug)


@pytest.fixture
def world() -> World:
    return World()


def album_item(album_id: str, slug: str, **fields: Any) -> dict[str, Any]:
    return {"id": album_id, "artist_did": DID, "slug": slug, **fields}


# ---- album removals ----------------------------------------------------------------------------


def test_a_removed_album_drops_its_pages_former_slugs_and_unreferenced_cover(world: World) -> None:
    world.repo.formers[(DID, "old-name")] = "a1"
    world.objects.objects[f"images/{IMAGE}/original"] = b"img"
    old = album_item("a1", "new-name", image_id=IMAGE)

    assert world.events.handle(stream_record("REMOVE", "album", old=old)) == "album removed"

    assert set(world.cache.invalidated) == {world.page("new-name"), world.page("old-name")}
    assert world.repo.former_slugs(DID, "a1") == []
    assert world.objects.objects == {}


def test_a_cover_another_album_uses_is_kept(world: World) -> None:
    world.album("a2", "other", image_id=IMAGE)
    world.objects.objects[f"images/{IMAGE}/original"] = b"img"
    world.events.handle(stream_record("REMOVE", "album", old=album_item("a1", "gone", image_id=IMAGE)))
    assert world.objects.objects != {}


def test_a_malformed_image_id_is_poison_and_dead_lettered_at_once(world: World) -> None:
    record = stream_record("REMOVE", "album", old=album_item("a1", "x", image_id="../../etc"))
    assert world.events.handle_with_dead_letters(record) == "dead-lettered"
    assert len(world.plumbing.dead_letters) == 1 and "PoisonRecord" in world.plumbing.dead_letters[0][1]
    assert world.plumbing.attempts["e1"] == 1


def test_an_album_change_other_than_a_removal_is_ignored(world: World) -> None:
    assert world.events.handle(stream_record("MODIFY", "album", new=album_item("a1", "x"))) == "ignored"
    assert world.cache.invalidated == []


@pytest.mark.parametrize("event", ["INSERT", "REMOVE"])
def test_a_deleted_albums_tombstone_put_or_expired_is_ignored(world: World, event: str) -> None:
    tombstone = {"pk": "ALBUM#a1", "sk": "GONE", "expires_at": 1}
    image = {"new": tombstone} if event == "INSERT" else {"old": tombstone}
    assert world.events.handle(stream_record(event, "other", **image)) == "ignored"
    assert world.cache.invalidated == [] and world.jobs.jobs == {}


# ---- track changes -----------------------------------------------------------------------------


def test_track_changes_drop_each_album_page_once_per_batch(world: World) -> None:
    world.album("a1", "first")
    world.album("a2", "second")
    pages = world.events.pages()
    for n in range(5):
        old = {"id": n, "album_id": "a1"}
        world.events.handle(stream_record("MODIFY", "track", new={**old, "album_id": "a2"}, old=old), pages)
    assert world.cache.invalidated == []  # not before the batch is flushed
    pages.flush()
    assert sorted(world.cache.invalidated) == sorted([world.page("first"), world.page("second")])


def test_a_track_of_a_removed_album_needs_no_lookup(world: World) -> None:
    world.album("a1", "kept-for-now")
    world.events.handle(stream_record("REMOVE", "album", old=album_item("a1", "kept-for-now")))
    world.cache.invalidated.clear()
    world.events.handle(stream_record("REMOVE", "track", old={"id": 1, "album_id": "a1"}))
    assert world.cache.invalidated == []


def test_a_removed_track_deletes_its_unreferenced_cover(world: World) -> None:
    world.objects.objects[f"images/{IMAGE}/thumb"] = b"t"
    assert world.events.handle(stream_record("REMOVE", "track", old={"id": 1, "image_id": IMAGE})) == "track changed"
    assert world.objects.objects == {}


# ---- jobs --------------------------------------------------------------------------------------


def test_a_pending_cleanup_job_runs_and_other_statuses_do_not(world: World) -> None:
    job = {"job_id": "j1", "kind": "delete_album", "status": "pending"}
    assert world.events.handle(stream_record("INSERT", "job", new=job)) == "cleaned"
    assert world.events.handle(stream_record("MODIFY", "job", new={**job, "status": "parked"})) == "ignored"
    assert world.cleanup.ran == ["j1"]


def test_a_like_reread_job_is_dispatched_to_the_like_reread(world: World) -> None:
    job = {"job_id": "likes-1", "kind": stream_events.LIKES_JOB, "status": "pending"}
    assert world.events.handle(stream_record("INSERT", "job", new=job)) == "reread"
    assert world.rereads == ["likes-1"] and world.cleanup.ran == []


def test_an_index_job_indexes_the_artist_and_goes(world: World) -> None:
    uri = world.reader.put(DID, TRACK, "t1", {"$type": TRACK, "title": "From the job"})
    job_id = world.indexing.request_backfill(ARTIST, job_id="idx-1")
    assert job_id is not None
    new = {**world.jobs.jobs[job_id]}
    assert new["kind"] == INDEX_JOB

    assert world.events.handle(stream_record("INSERT", "job", new=new)) == "done"
    assert world.repo.by_uri(uri) is not None and world.jobs.jobs == {}
    assert world.events.handle(stream_record("INSERT", "job", new=new)) == "gone"  # delivered again


# ---- failures ----------------------------------------------------------------------------------


def test_a_failure_is_retried_then_dead_lettered_on_its_last_attempt(world: World) -> None:
    def broken(job_id: str) -> str:
        raise RuntimeError("catalogue down")

    world.cleanup.run_job = broken  # type: ignore[method-assign]
    record = stream_record("INSERT", "job", new={"job_id": "j1", "kind": "delete_album", "status": "pending"})
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(RuntimeError):
            world.events.handle_with_dead_letters(record)
    assert world.plumbing.dead_letters == []

    assert world.events.handle_with_dead_letters(record) == "dead-lettered"
    assert world.plumbing.dead_letters == [(record, "RuntimeError: catalogue down")]


def test_a_page_lookup_that_fails_never_fails_the_record(world: World) -> None:
    world.album("a1", "x")

    def down(album_id: str) -> Album | None:
        raise RuntimeError("catalogue down")

    world.repo.get_album = down  # type: ignore[method-assign]
    world.events.handle(stream_record("MODIFY", "track", new={"id": 1, "album_id": "a1"}))
    assert world.plumbing.dead_letters == [] and world.cache.invalidated == []


def test_an_album_of_an_unknown_artist_drops_no_page(world: World) -> None:
    old = replace(world.album("a1", "x"), artist_did="did:plc:someoneelse0000000000")
    world.events.handle(stream_record("REMOVE", "album", old=album_item(old.id, old.slug, artist_did=old.artist_did)))
    assert world.cache.invalidated == []
