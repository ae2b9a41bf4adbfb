"""Indexing (`POST /artists/me/sync`, login) while the artist deletes an album: the run
answers, leaves what the delete (or its cleanup job) is undoing to it, and the next run has
nothing left to change."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.codec import to_value
from albums_core.domain.models import Album
from albums_core.services import cleanup
from tests.integration.write_fixtures import Artist


def album_with_tracks(artist: Artist, title: str, n: int) -> tuple[dict[str, Any], list[str]]:
    uris = [artist.publish_track(f"{title} song {i}") for i in range(n)]
    _, meta = artist.admin().create(title)
    artist.admin().attach(meta["id"], uris)
    return meta, uris


def nothing_changed(counts: dict[str, int]) -> bool:
    assert counts == dict.fromkeys(counts, 0)
    return True


def assert_deleted(artist: Artist, meta: dict[str, Any], uris: list[str], cascade: bool) -> None:
    repo = CatalogueWriter()
    assert repo.get_album(meta["id"]) is None and not artist.exists(meta["list_uri"])
    tracks = {t.record_uri: t for t in repo.artist_tracks(artist.did) if t.record_uri in uris}
    if cascade:
        assert tracks == {} and not any(artist.exists(u) for u in uris)
    else:
        assert set(tracks) == set(uris) and all(t.album_id is None for t in tracks.values())
        assert all("album" not in artist.record(u).value for u in uris)


class PausedAfterItsPdsWrite(CatalogueWriter):
    """The catalogue of a delete request that stops between its PDS write (the list record
    and the tracks' records done) and its own catalogue writes, until told to go on."""

    def __init__(self) -> None:
        super().__init__()
        self.reached = threading.Event()
        self.go = threading.Event()

    def release_tracks(self, *args: Any, **kwargs: Any) -> None:
        self.reached.set()
        assert self.go.wait(60)
        super().release_tracks(*args, **kwargs)


class FinishingTheDeleteFirst(CatalogueWriter):
    """The catalogue of a sync that, just before it removes an album itself, lets the paused
    delete run to its end: the interleaving that answered 500 one sync in eight."""

    def __init__(self, finish: Callable[[], None]) -> None:
        super().__init__()
        self.finish = finish

    def delete_album_items(self, album: Album, handle: str) -> None:
        self.finish()
        super().delete_album_items(album, handle)


@pytest.mark.parametrize("cascade", [True, False])
def test_a_sync_racing_a_delete_answers_and_is_idempotent(alice: Artist, cascade: bool) -> None:
    meta, uris = album_with_tracks(alice, f"Raced {cascade}", 3)
    bootstrap.indexing().sync_artist(alice.caller.artist)
    deleting = PausedAfterItsPdsWrite()
    with ThreadPoolExecutor(1) as pool:
        delete = pool.submit(bootstrap.album_admin(alice.caller, repo=deleting).delete, meta["id"], cascade)
        assert deleting.reached.wait(60)

        def finish() -> None:
            deleting.go.set()
            delete.result(timeout=60)

        try:
            bootstrap.indexing(FinishingTheDeleteFirst(finish)).sync_artist(alice.caller.artist)
        finally:
            deleting.go.set()
        assert delete.result(timeout=60) == {"deleted": True, "cascade": cascade}
    assert_deleted(alice, meta, uris, cascade)
    assert nothing_changed(bootstrap.indexing().sync_artist(alice.caller.artist))


def job_ids(did: str) -> list[str]:
    repo = CatalogueWriter()
    items = repo._query_all(
        IndexName="gsi2",
        KeyConditionExpression="gsi2pk = :p",
        ExpressionAttributeValues={":p": to_value(f"JOBS#{did}")},
    )
    return [str(i["job_id"]) for i in items]


@pytest.mark.parametrize("cascade", [True, False])
def test_a_sync_during_a_background_delete_leaves_the_jobs_tracks_to_it(
    alice: Artist, cascade: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Albums over the threshold are finished by the stream-triggered job; a low threshold
    # makes a small album one of those (the job is run here by hand, not by the stream).
    monkeypatch.setattr(cleanup, "SYNC_DELETE_MAX_TRACKS", 2)
    meta, uris = album_with_tracks(alice, f"Background {cascade}", 4)
    assert alice.admin().delete(meta["id"], cascade) == {"deleted": True, "cascade": cascade}
    assert CatalogueWriter().get_album(meta["id"]) is None
    (job_id,) = job_ids(alice.did)
    # No track reported "moved to standalone" while the job is deleting or orphaning it.
    assert nothing_changed(bootstrap.indexing().sync_artist(alice.caller.artist))
    assert bootstrap.cleanup().run_job(job_id) == "done"
    assert_deleted(alice, meta, uris, cascade)
    assert nothing_changed(bootstrap.indexing().sync_artist(alice.caller.artist))
