"""One track item per track record: the record's guard (`TRACKREC#<uri>`, naming its track id)
is taken in the transaction that creates a track item, so of two writers creating a track for
the same new record at once (an attach, the firehose consumer, the indexer) one creates it and
the other uses that track. Deleting a track deletes its guard; a guard whose track is gone
(left by a path that missed it) is taken over, never blocking the record."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from albums_core import bootstrap
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.codec import from_item, to_item
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.records import TRACK, new_track, onto_existing
from tests.integration.factory import make_album, make_artist
from tests.integration.write_fixtures import Artist as Caller

VALUE = {"$type": TRACK, "title": "Guarded", "artist": "A", "fileType": "mp3", "createdAt": "2026-11-01T00:00:00Z"}


def guard_of(writer: CatalogueRepository, did: str, uri: str) -> dict[str, Any] | None:
    out = writer.client.get_item(
        TableName=writer.table, Key=to_item(keys.track_record_guard(did, uri)), ConsistentRead=True
    )
    return from_item(out["Item"]) if "Item" in out else None


def copies(did: str, uri: str) -> list[Track]:
    return [t for t in CatalogueWriter().artist_tracks(did) if t.record_uri == uri]


def page_titles(handle: str, slug: str) -> list[str]:
    return [t["title"] for t in json.loads(bootstrap.album_pages().render(handle, slug, None))["tracks"]]


def consumer_creates(writer: CatalogueWriter, did: str, uri: str, cid: str, value: dict[str, Any]) -> Track:
    """The firehose consumer's write for a record's create commit (fresh id, standalone): the
    track it writes."""
    (track_id,) = writer.reserve_track_ids(1)
    track = new_track(track_id, did, None, uri, cid, value)
    writer.add_new_tracks([track])
    return track


# ---- races, each run deterministically inside the other writer's read-then-write window ----------


def test_the_consumer_creating_the_track_between_an_attachs_read_and_write_leaves_one_item(alice: Caller) -> None:
    _, album = alice.admin().create("Race Consumer")
    uri = alice.publish_track("Published Elsewhere")

    class ConsumerMeanwhile(CatalogueWriter):
        def move_tracks_into(self, album: Album, moves: list[tuple[Track | None, Track]]) -> None:
            # The attach has read the artist's tracks (twice) and chosen a new id: now the
            # consumer applies the record's create commit, then the attach writes.
            assert [known for known, _ in moves] == [None]
            record = alice.record(uri)
            consumer_creates(CatalogueWriter(), alice.did, uri, record.cid, record.value)
            super().move_tracks_into(album, moves)

    bootstrap.album_admin(alice.caller, repo=ConsumerMeanwhile()).attach(album["id"], [uri])
    held = copies(alice.did, uri)
    assert [t.album_id for t in held] == [album["id"]]
    guard = guard_of(CatalogueWriter(), alice.did, uri)
    assert guard is not None and guard["track_id"] == held[0].id
    loaded = CatalogueWriter().load_album(album["id"])
    assert loaded is not None and loaded[0].track_count == 1 and [t.id for t in loaded[1]] == [held[0].id]
    assert page_titles(alice.caller.artist.handle, album["slug"]) == ["Published Elsewhere"]


def test_the_indexer_creating_the_track_between_an_attachs_read_and_write_leaves_one_item(alice: Caller) -> None:
    _, album = alice.admin().create("Race Indexer")
    uri = alice.publish_track("Indexed Meanwhile")

    class IndexerMeanwhile(CatalogueWriter):
        def move_tracks_into(self, album: Album, moves: list[tuple[Track | None, Track]]) -> None:
            # The list record names the track already (the attach wrote it): the indexer,
            # handed the artist by the consumer, creates the track in the album.
            assert [known for known, _ in moves] == [None]
            counts = bootstrap.indexing(CatalogueWriter()).sync_artist(alice.caller.artist)
            assert counts["tracks_created"] == 1
            super().move_tracks_into(album, moves)

    bootstrap.album_admin(alice.caller, repo=IndexerMeanwhile()).attach(album["id"], [uri])
    held = copies(alice.did, uri)
    assert [t.album_id for t in held] == [album["id"]]
    loaded = CatalogueWriter().load_album(album["id"])
    assert loaded is not None and loaded[0].track_count == 1 and len(loaded[1]) == 1
    assert page_titles(alice.caller.artist.handle, album["slug"]) == ["Indexed Meanwhile"]
    # The membership names the one track: it can be removed and attached again.
    alice.admin().remove_track(album["id"], held[0].id)
    alice.admin().attach(album["id"], [uri])
    assert [t.id for t in copies(alice.did, uri)] == [held[0].id]


def test_the_indexer_updates_the_track_the_consumer_created_after_its_read(alice: Caller) -> None:
    uri = alice.publish_track("Both Ways In")
    record = alice.record(uri)
    created: list[Track] = []

    class ConsumerAfterTheRead(CatalogueWriter):
        def artist_tracks(self, did: str) -> list[Track]:
            read = super().artist_tracks(did)
            if not created:
                created.append(consumer_creates(CatalogueWriter(), did, uri, record.cid, record.value))
            return read

    counts = bootstrap.indexing(ConsumerAfterTheRead()).sync_artist(alice.caller.artist)
    assert counts["tracks_created"] == 0
    assert [t.id for t in copies(alice.did, uri)] == [created[0].id]


def test_two_consumers_creating_one_record_leave_one_item(repo: CatalogueRepository) -> None:
    writer = CatalogueWriter(repo.table, repo.client)
    artist = make_artist(repo, "guard1.test")
    uri = f"at://{artist.did}/{TRACK}/g1"
    first = consumer_creates(writer, artist.did, uri, "bafyg1", VALUE)
    # A second consumer (an overlapping invocation) whose held copy predates the first write.
    (track_id,) = writer.reserve_track_ids(1)
    second = writer.add_new_tracks([new_track(track_id, artist.did, None, uri, "bafyg1", VALUE)])
    assert [t.id for t in writer.artist_tracks(artist.did)] == [first.id]
    assert second == [first]
    # Several at once: the held record is returned, the new ones are written.
    ids = writer.reserve_track_ids(3)
    batch = [
        new_track(i, artist.did, None, f"at://{artist.did}/{TRACK}/g{n}", "bafy", VALUE) for n, i in enumerate(ids)
    ]
    now = writer.add_new_tracks(batch)
    assert [t.id for t in now] == [batch[0].id, first.id, batch[2].id]
    assert len(writer.artist_tracks(artist.did)) == 3


# ---- deletions take the guard with them; moves keep it --------------------------------------------


def _track(writer: CatalogueWriter, artist: Artist, rkey: str, album: Album | None = None) -> Track:
    uri = f"at://{artist.did}/{TRACK}/{rkey}"
    (track_id,) = writer.reserve_track_ids(1)
    track = new_track(track_id, artist.did, album.id if album else None, uri, "bafy", VALUE)
    writer.add_new_tracks([track])
    assert guard_of(writer, artist.did, uri) is not None
    return track


def test_deleting_a_track_deletes_its_guard_and_moving_it_keeps_it(repo: CatalogueRepository) -> None:
    writer = CatalogueWriter(repo.table, repo.client)
    artist = make_artist(repo, "guard2.test")
    album, _ = make_album(repo, artist, "Guarded Album")
    gone = _track(writer, artist, "d1")
    assert writer.drop_track(gone)  # the consumer: a record deleted
    assert guard_of(writer, artist.did, gone.record_uri or "") is None
    gone = _track(writer, artist, "d2", album)
    assert writer.drop_track(gone)  # in an album: with its counters
    assert guard_of(writer, artist.did, gone.record_uri or "") is None
    gone = _track(writer, artist, "d3")
    writer.remove_track(gone)  # the indexer
    assert guard_of(writer, artist.did, gone.record_uri or "") is None
    kept, cascaded = _track(writer, artist, "d4", album), _track(writer, artist, "d5", album)
    writer.release_tracks([cascaded], True, {})  # an album deleted with its tracks
    assert guard_of(writer, artist.did, cascaded.record_uri or "") is None
    (moved,) = writer.detach_tracks([kept])  # moves keep the guard: the id is the same
    writer.save_track(replace(moved, album_id=album.id), moved)
    writer.release_tracks([replace(moved, album_id=album.id)], False, {})
    guard = guard_of(writer, artist.did, kept.record_uri or "")
    assert guard is not None and guard["track_id"] == kept.id
    assert [t.id for t in writer.artist_tracks(artist.did)] == [kept.id]


def test_a_cascade_deletes_every_guard_even_of_a_record_with_two_items(repo: CatalogueRepository) -> None:
    writer = CatalogueWriter(repo.table, repo.client)
    artist = make_artist(repo, "guard4.test")
    album, _ = make_album(repo, artist, "Cascade")
    tracks = [_track(writer, artist, f"c{i}", album) for i in range(14)]  # 28 deletes: two calls
    # A record with two items, as the race left them before the guard: one guard for both.
    twin = replace(tracks[0], id=writer.next_track_id())
    writer.transact_in_batches([writer.put_track(twin)])
    writer.release_tracks([tracks[0], twin, *tracks[1:]], True, {})
    assert writer.album_tracks(album.id) == []
    assert [guard_of(writer, artist.did, t.record_uri or "") for t in tracks] == [None] * len(tracks)


# ---- a guard whose track is gone does not block the record --------------------------------------


def _stale_guard(writer: CatalogueWriter, did: str, uri: str) -> None:
    item = {**keys.track_record_guard(did, uri), "track_id": 987_654_321, "record_uri": uri, "created_in": "-"}
    writer.client.put_item(TableName=writer.table, Item=to_item(item))


def test_a_stale_guard_is_taken_over_by_each_creator(repo: CatalogueRepository) -> None:
    writer = CatalogueWriter(repo.table, repo.client)
    artist = make_artist(repo, "guard3.test")
    uri = f"at://{artist.did}/{TRACK}/s1"
    _stale_guard(writer, artist.did, uri)
    track = consumer_creates(writer, artist.did, uri, "bafys1", VALUE)
    assert [t.id for t in writer.artist_tracks(artist.did)] == [track.id]
    assert (guard_of(writer, artist.did, uri) or {}).get("track_id") == track.id

    uri = f"at://{artist.did}/{TRACK}/s2"
    _stale_guard(writer, artist.did, uri)
    indexed = new_track(writer.next_track_id(), artist.did, None, uri, "bafys2", VALUE)
    writer.save_track(indexed)  # the indexer
    assert (guard_of(writer, artist.did, uri) or {}).get("track_id") == indexed.id


def test_a_stale_guard_does_not_block_an_attach(alice: Caller) -> None:
    _, album = alice.admin().create("After A Stale Guard")
    uri = alice.publish_track("Once Lost")
    writer = CatalogueWriter()
    _stale_guard(writer, alice.did, uri)
    alice.admin().attach(album["id"], [uri])
    (held,) = copies(alice.did, uri)
    assert held.album_id == album["id"] and (guard_of(writer, alice.did, uri) or {}).get("track_id") == held.id
    assert page_titles(alice.caller.artist.handle, album["slug"]) == ["Once Lost"]


def test_an_attach_outlasts_the_consumer_creating_its_records_one_round_at_a_time(alice: Caller) -> None:
    # A burst published elsewhere: the consumer creates one more of the records' tracks before
    # each transaction the attach tries, so each round meets one more refused guard (more
    # rounds than a fixed retry budget would allow). Every record ends with one item, in the album.
    _, album = alice.admin().create("Race Trickle")
    uris = [alice.publish_track(f"Trickle {i}") for i in range(8)]
    records = {uri: alice.record(uri) for uri in uris}
    waiting = list(uris)

    class ConsumerEachRound(CatalogueWriter):
        moving = False

        def move_tracks_into(self, album: Album, moves: list[tuple[Track | None, Track]]) -> None:
            self.moving = True
            try:
                super().move_tracks_into(album, moves)
            finally:
                self.moving = False

        def _transact(self, actions: list[dict[str, Any]]) -> None:
            if self.moving and waiting:
                uri = waiting.pop(0)
                consumer_creates(CatalogueWriter(), alice.did, uri, records[uri].cid, records[uri].value)
            super()._transact(actions)

    bootstrap.album_admin(alice.caller, repo=ConsumerEachRound()).attach(album["id"], uris)
    assert not waiting
    for uri in uris:
        assert [t.album_id for t in copies(alice.did, uri)] == [album["id"]], uri
    loaded = CatalogueWriter().load_album(album["id"])
    assert loaded is not None and loaded[0].track_count == 8 and len(loaded[1]) == 8


def _publish_burst(alice: Caller, n: int) -> list[str]:
    writes = [
        {"$type": "com.atproto.repo.applyWrites#create", "collection": TRACK, "value": {**VALUE, "title": f"Burst {i}"}}
        for i in range(n)
    ]
    return [str(r["uri"]) for r in alice.pds.apply_writes(writes, swap_commit=None)["results"]]


def claim_of(writer: CatalogueWriter, did: str, uri: str) -> dict[str, Any] | None:
    out = writer.client.get_item(TableName=writer.table, Key=to_item(keys.track_claim(did, uri)), ConsistentRead=True)
    return from_item(out["Item"]) if "Item" in out else None


def test_an_attach_answers_what_it_did_while_the_live_consumer_indexes_its_records_meanwhile(alice: Caller) -> None:
    # CI, and twice against `make run`: an attach of 60 records the live consumer was indexing
    # answered 409 "track already belongs to another album" while the album held the tracks. The
    # attach's PDS write is a list commit: the consumer hands the artist to the indexer, which
    # moves the tracks into the album one by one while the attach moves them too; the consumer
    # also creates the tracks of records it had not indexed yet. Here one step of that before
    # each transaction the attach tries, over more tracks than one transaction moves.
    _, album = alice.admin().create("Race Live Consumer")
    uris = _publish_burst(alice, 30)
    records = {uri: alice.record(uri) for uri in uris}
    for uri in uris[::2]:  # indexed before the attach; the others come in during it
        consumer_creates(CatalogueWriter(), alice.did, uri, records[uri].cid, records[uri].value)
    steps: list[tuple[str, str]] = []
    for i, uri in enumerate(uris):
        steps += [("move", uri)] if i % 2 == 0 else [("create", uri), ("move", uri)]
    album_id = album["id"]

    def consumer_step() -> None:
        action, uri = steps.pop(0)
        writer = CatalogueWriter()
        if action == "create":  # the record's create commit
            consumer_creates(writer, alice.did, uri, records[uri].cid, records[uri].value)
            return
        # The indexer following the list record the attach wrote: the record's track moves in.
        (local,) = copies(alice.did, uri)
        if local.album_id != album_id:
            record = alice.record(uri)
            moved = new_track(local.id, alice.did, album_id, uri, record.cid, record.value)
            writer.save_track(onto_existing(moved, local), local)

    class LiveConsumer(CatalogueWriter):
        moving = False

        def move_tracks_into(self, album: Album, moves: list[tuple[Track | None, Track]]) -> None:
            self.moving = True
            try:
                super().move_tracks_into(album, moves)
            finally:
                self.moving = False

        def _transact(self, actions: list[dict[str, Any]]) -> None:
            if self.moving and steps:
                consumer_step()
            super()._transact(actions)

    answer = bootstrap.album_admin(alice.caller, repo=LiveConsumer()).attach(album_id, uris)
    assert not steps  # the whole interleaving ran
    assert answer["track_count"] == 30
    writer = CatalogueWriter()
    for uri in uris:
        (held,) = copies(alice.did, uri)
        assert held.album_id == album_id, uri
        claim = claim_of(writer, alice.did, uri)
        assert claim is not None and claim["claim_state"] == "member" and claim["track_id"] == held.id, uri
        assert (guard_of(writer, alice.did, uri) or {}).get("track_id") == held.id, uri
    loaded = writer.load_album(album_id)
    assert loaded is not None and loaded[0].track_count == 30 and len(loaded[1]) == 30
    assert loaded[0].track_order == uris
    assert page_titles(alice.caller.artist.handle, album["slug"]) == [f"Burst {i}" for i in range(30)]
