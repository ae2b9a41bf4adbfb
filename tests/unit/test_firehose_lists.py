"""Album list records applied from the commits (services/firehose/lists.py), on the fakes: which
lists the commit decides, which go to the indexer, and what is written. That the result is the
indexer's own is tested both ways against moto (tests/integration/test_firehose_lists.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from albums_core.domain.firehose_events import LIST, TRACK, RecordOp
from albums_core.domain.records import album_id_for
from tests.unit.firehose_world import World, commit, create, delete, list_op, list_value


def _uris(did: str, *rkeys: str) -> list[str]:
    return [f"at://{did}/{TRACK}/{r}" for r in rkeys]


def test_a_list_of_held_singles_becomes_an_album_without_the_indexer() -> None:
    world = World()
    artist = world.artist("ann")
    world.ingest.apply([commit(artist.did, create("t1", "One"), create("t2", "Two"), create("t3", "Three"))])
    report = world.ingest.apply([commit(artist.did, list_op("l1", *_uris(artist.did, "t2", "t1", "t2")))])
    assert report.counts["lists_applied"] == 1 and world.indexer.runs == []
    album = world.catalogue.albums[album_id_for(f"at://{artist.did}/{LIST}/l1")]
    assert (album.slug, album.title, album.track_count) == ("named", "Named", 2)
    assert album.track_order == _uris(artist.did, "t2", "t1")
    assert {r: world.track_of(artist, r).album_id for r in ("t1", "t2", "t3")} == {  # type: ignore[union-attr]
        "t1": album.id,
        "t2": album.id,
        "t3": None,
    }
    assert (artist.handle, "named") in world.pages.dropped

    # One item out, another in: the album follows, the one out is a single again.
    value = list_value(*_uris(artist.did, "t3", "t1"))
    world.ingest.apply([commit(artist.did, RecordOp("update", LIST, "l1", "bafyl1b", value))])
    album = world.catalogue.albums[album.id]
    assert album.track_order == _uris(artist.did, "t3", "t1") and album.track_count == 2 and album.version == 1
    assert world.track_of(artist, "t2").album_id is None  # type: ignore[union-attr]
    assert world.indexer.runs == []


def test_tracks_and_their_list_in_one_batch_are_applied_from_the_commits() -> None:
    world = World()
    artist = world.artist("bea")
    ops = (create("t1", "One"), create("t2", "Two"), list_op("l1", *_uris(artist.did, "t1", "t2")))
    report = world.ingest.apply([commit(artist.did, *ops)])
    assert report.counts["lists_applied"] == 1 and report.counts["applied"] == 3 and world.indexer.runs == []
    assert world.catalogue.albums[album_id_for(f"at://{artist.did}/{LIST}/l1")].track_count == 2


def test_what_the_commit_alone_cannot_decide_goes_to_the_indexer() -> None:
    world = World()
    artist, other = world.artist("cid"), world.artist("dot")
    world.ingest.apply([commit(artist.did, create("t1", "One"), create("t2", "Two"))])
    world.ingest.apply([commit(other.did, create("o1", "Other"))])
    cases = [
        list_op("l1", *_uris(artist.did, "t1", "unknown")),  # a track not held
        list_op("l2", *_uris(other.did, "o1")),  # another artist's record
        RecordOp("create", LIST, "l3", "bafyl3", {**list_value(), "listType": "playlist"}),  # not an album
    ]
    for n, op in enumerate(cases, 1):
        world.ingest.apply([commit(artist.did, op)])
        assert world.indexer.runs == [artist.did] * n
    assert world.catalogue.albums == {}
    # A track of another album, a rename, a deleted list: the indexer's too.
    world.ingest.apply([commit(artist.did, list_op("l4", *_uris(artist.did, "t1")))])
    assert len(world.indexer.runs) == 3
    for op in (
        list_op("l5", *_uris(artist.did, "t1", "t2")),
        RecordOp("update", LIST, "l4", "bafyl4b", {**list_value(*_uris(artist.did, "t1")), "name": "Renamed"}),
        delete(LIST, "l4"),
    ):
        world.ingest.apply([commit(artist.did, op)])
    assert len(world.indexer.runs) == 6


@pytest.mark.parametrize("plays_again", [False, True])
def test_a_write_that_finds_an_item_not_as_held_reads_again_once_then_goes_to_the_indexer(plays_again: bool) -> None:
    """What is held was read in an earlier batch: a write that finds an item changed since is
    not made; the artist is read again and the list tried once more (applied with the play
    counted), and a write that fails again is the indexer's."""
    world = World()
    artist = world.artist("eve")
    world.ingest.apply([commit(artist.did, create("t1", "One"))])
    held = world.track_of(artist, "t1")
    assert held is not None
    plays = iter(range(3, 100))

    def play() -> None:  # a play counted between the read and the write
        if not plays_again:
            world.catalogue.before_write = None
        stored = world.catalogue.tracks[held.id]
        world.catalogue.tracks[held.id] = replace(stored, play_count=next(plays))

    world.catalogue.before_write = play
    report = world.ingest.apply([commit(artist.did, list_op("l1", *_uris(artist.did, "t1")))])
    if plays_again:
        assert world.indexer.runs == [artist.did] and not report.counts["lists_applied"]
        assert world.catalogue.albums == {}
        return
    assert world.indexer.runs == [] and report.counts["lists_applied"] == 1
    (album,) = world.catalogue.albums.values()
    assert album.total_plays == 3 and world.catalogue.tracks[held.id].album_id == album.id


def test_an_album_whose_list_version_another_writer_wrote_is_left_to_the_indexer() -> None:
    """Our API's attach writes the list (created, then appended to) and the album; the first
    echo is older than the album: applied, it would take the album back until the next echo."""
    world = World()
    artist = world.artist("fay")
    album, tracks = world.album(artist, "ours", "t1", "t2")
    list_uri = f"at://{artist.did}/{LIST}/l1"
    world.catalogue.albums.pop(album.id)
    album = replace(album, id=album_id_for(list_uri), list_uri=list_uri, list_cid="bafynewest")
    world.catalogue.albums[album.id] = album
    for track in tracks:
        world.catalogue.tracks[track.id] = replace(track, album_id=album.id)
    first_echo = RecordOp("create", LIST, "l1", "bafyfirst", {**list_value(), "name": album.title})
    report = world.ingest.apply([commit(artist.did, first_echo)])
    assert world.indexer.runs == [artist.did] and not report.counts["lists_applied"]
    assert world.catalogue.albums[album.id].track_count == 2
    assert {t.album_id for t in world.catalogue.artist_tracks(artist.did)} == {album.id}


def test_a_list_whose_album_our_api_deleted_goes_to_the_indexer() -> None:
    """The album's tombstone (jobs.hand_over) refuses the create: the record may be gone."""
    world = World()
    artist = world.artist("gil")
    world.ingest.apply([commit(artist.did, create("t1", "One"))])
    world.catalogue.gone.add(album_id_for(f"at://{artist.did}/{LIST}/l1"))
    report = world.ingest.apply([commit(artist.did, list_op("l1", *_uris(artist.did, "t1")))])
    assert world.indexer.runs == [artist.did] and not report.counts["lists_applied"]
    assert world.catalogue.albums == {}


def test_our_own_track_and_list_coming_back_in_one_batch_change_nothing() -> None:
    """Our API uploads a track into an album (the track record, then the list naming it) within
    the minute a container holds the artist: their commits come back in one batch, the copy held
    from before it is read again once, and nothing is written, read from the PDS or indexed."""
    world = World()
    artist = world.artist("own")
    world.ingest.apply([commit(artist.did, create("t0", "Single"))])  # the artist is held now
    # What the API wrote meanwhile: the track, and the album its list names.
    list_uri = f"at://{artist.did}/{LIST}/l1"
    album, _ = world.album(artist, "named", "t1")
    world.catalogue.albums[album.id] = replace(album, list_uri=list_uri, list_cid="bafyl1")
    echo = commit(
        artist.did, create("t1", "T1"), RecordOp("create", LIST, "l1", "bafyl1", list_value(*_uris(artist.did, "t1")))
    )
    report = world.ingest.apply([echo])
    assert report.counts["applied_own"] == 2 and not report.counts["fallback_indexings"]
    assert world.indexer.runs == []
