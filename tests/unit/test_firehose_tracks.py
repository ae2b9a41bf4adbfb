"""Track records applied from the commits (services/firehose/tracks.py), on the fakes: what is
written, what is left to the indexer, and what a batch costs."""

from __future__ import annotations

from dataclasses import replace

from albums_core.adapters.atproto.xrpc import PdsUnavailable
from albums_core.domain.firehose_events import TRACK
from albums_core.services.indexer import IndexOutcome
from tests.unit.firehose_world import World, commit, create, delete, list_op, list_value, track, update

# A list item naming a track the consumer does not hold: only the indexer can tell what it makes.
UNHELD = "at://did:plc:elsewherexxxxxxxxxxxxxxx/fm.plyr.track/unheld"


def test_creates_updates_and_deletes_are_applied_from_the_commits_at_a_few_calls_a_batch() -> None:
    world = World()
    artist = world.artist("ann")
    batch = [
        commit(artist.did, create("t1", "One"), create("t2", "Two")),
        commit(artist.did, create("t3", "Three", duration=200)),
        commit(artist.did, update("t2", "Two (edit)", "bafyt2b")),
        commit(artist.did, create("t4", "Gone"), delete(TRACK, "t4")),
    ]
    report = world.ingest.apply(batch)
    titles = {str(t.record_uri).rsplit("/", 1)[1]: t.title for t in world.catalogue.artist_tracks(artist.did)}
    assert titles == {"t1": "One", "t2": "Two (edit)", "t3": "Three"}
    assert report.counts["tracks_created"] == 3 and report.counts["applied"] == 6
    assert world.indexer.runs == []
    # One batch of one repository: ids reserved once, new items written at once.
    assert world.catalogue.calls["reserve_track_ids"] == 1 and world.catalogue.calls["add_new_tracks"] == 1
    assert world.repos.states[artist.did]["rev"] == batch[-1].rev

    # The same commits again (a reconnect), here and in a new container: nothing is written.
    assert world.ingest.apply(batch).counts["skipped_replayed"] == len(batch)
    writes = world.catalogue.calls["add_new_tracks"] + world.catalogue.calls["update_track_record"]
    assert world.fresh().apply(batch).counts["skipped_replayed"] == len(batch)
    assert world.catalogue.calls["add_new_tracks"] + world.catalogue.calls["update_track_record"] == writes


def test_our_own_write_coming_back_changes_nothing() -> None:
    world = World()
    artist = world.artist("own")
    world.ingest.apply([commit(artist.did, create("t1", "Mine"))])
    held = world.track_of(artist, "t1")
    report = world.ingest.apply([commit(artist.did, update("t1", "Mine", "bafyt1"))])
    assert report.counts["applied_own"] == 1 and report.counts["applied"] == 0
    assert world.catalogue.calls["update_track_record"] == 0 and world.track_of(artist, "t1") == held


def test_an_album_tracks_delete_drops_its_counters_unlists_it_and_drops_its_page_once() -> None:
    world = World()
    artist = world.artist("alb")
    album, (first, second) = world.album(artist, "held", "a1", "a2")
    report = world.ingest.apply([commit(artist.did, update("a1", "Renamed", "bafynew"))])
    now = world.catalogue.tracks[first.id]
    assert (now.title, now.record_cid, now.album_id, now.play_count) == ("Renamed", "bafynew", album.id, 2)
    assert report.counts["tracks_updated"] == 1 and world.pages.dropped_ids == [album.id]

    world.ingest.apply([commit(artist.did, delete(TRACK, "a1"), delete(TRACK, "a2"))])
    stored = world.catalogue.albums[album.id]
    assert (stored.track_count, stored.total_plays) == (0, 0)
    assert album.id not in world.catalogue.listed
    assert world.pages.dropped_ids == [album.id] * 2  # once per batch


def test_a_write_that_raced_is_read_again_then_left_to_the_indexer() -> None:
    world = World()
    artist = world.artist("race")
    world.ingest.apply([commit(artist.did, create("m1", "Mover"))])
    moved = world.track_of(artist, "m1")
    assert moved is not None
    world.catalogue.tracks[moved.id] = replace(moved, album_id="album-elsewhere")  # a request moved it
    world.ingest.apply([commit(artist.did, update("m1", "Changed", "bafym1b"))])
    now = world.track_of(artist, "m1")
    assert now is not None and (now.title, now.album_id) == ("Changed", "album-elsewhere")
    assert world.indexer.runs == []

    # Another writer changes the item every time: refused twice, then the indexer.
    def meddle() -> None:
        held = world.track_of(artist, "m1")
        assert held is not None
        world.catalogue.tracks[held.id] = replace(held, record_cid=f"bafyother{world.catalogue.calls.total()}")

    world.catalogue.before_write = meddle
    report = world.ingest.apply([commit(artist.did, update("m1", "Again", "bafym1c"))])
    assert report.counts["fallback_indexings"] == 1 and world.indexer.runs == [artist.did]


def test_a_new_track_a_list_names_or_an_unreadable_listing_goes_to_the_indexer() -> None:
    world = World()
    artist = world.artist("lst")
    world.album(artist, "has-a-list", "x1")
    world.pds.put(artist.did, "fm.plyr.list", "l1", list_value(f"at://{artist.did}/{TRACK}/named"))
    world.ingest.apply([commit(artist.did, create("loose", "Loose"))])
    assert world.indexer.runs == [] and world.track_of(artist, "loose") is not None
    world.ingest.apply([commit(artist.did, create("named", "Named"))])
    assert world.indexer.runs == [artist.did] and world.track_of(artist, "named") is None

    world.pds.faults.fail("list_records", lambda: PdsUnavailable("down"))
    report = world.ingest.apply([commit(artist.did, create("later", "Later"))])
    assert report.counts["fallback_indexings"] == 1 and world.indexer.runs == [artist.did] * 2


def test_a_repository_never_indexed_is_backfilled_and_an_unknown_one_skipped() -> None:
    world = World()
    world.identities.add("did:plc:newcomerxxxxxxxxxxxxxxxx", "newcomer.test")
    report = world.ingest.apply(
        [
            commit("did:plc:newcomerxxxxxxxxxxxxxxxx", create("n1", "New")),
            commit("did:plc:nobodyxxxxxxxxxxxxxxxxxx", create("n1", "Nobody")),
        ]
    )
    assert report.counts["backfills"] == 1 and report.counts["skipped_unknown_identity"] == 1
    assert world.catalogue.artists["did:plc:newcomerxxxxxxxxxxxxxxxx"].handle == "newcomer.test"
    assert world.indexer.runs == ["did:plc:newcomerxxxxxxxxxxxxxxxx"]


def test_a_repository_over_its_budget_is_set_aside_and_requeued_later() -> None:
    world = World()
    hostile, calm = world.artist("hostile"), world.artist("calm")
    world.indexer.outcome = IndexOutcome({}, complete=False, job="job-1")
    report = world.ingest.apply([commit(hostile.did, list_op("l1", UNHELD)), commit(calm.did, create("c1", "Calm"))])
    assert report.counts["repos_set_aside"] == 1 and report.counts["reindex_jobs"] == 1
    assert world.track_of(calm, "c1") is not None

    # While aside its tracks wait (no indexing); a minute later they get a job of their own.
    waited = world.ingest.apply([commit(hostile.did, list_op("l2", UNHELD))])
    assert waited.counts["set_aside_events"] == 1 and world.indexer.runs == [hostile.did]
    world.clock.now += 61
    later = world.ingest.apply([commit(calm.did, create("c2", "Calm 2"))])  # the time aside is over
    assert later.counts["reindex_jobs"] == 1 and world.indexer.jobs == [(hostile.did, None)]


def test_a_delete_that_finds_the_track_moved_is_applied_where_it_is_now() -> None:
    world = World()
    artist = world.artist("moved")
    album, _ = world.album(artist, "elsewhere")
    world.ingest.apply([commit(artist.did, create("d1", "Doomed"))])
    held = world.track_of(artist, "d1")
    assert held is not None
    world.catalogue.tracks[held.id] = replace(held, album_id=album.id)  # a request moved it meanwhile
    world.catalogue.albums[album.id] = replace(album, track_count=1)
    report = world.ingest.apply([commit(artist.did, delete(TRACK, "d1"))])
    assert report.counts["tracks_removed"] == 1 and world.track_of(artist, "d1") is None
    assert world.catalogue.albums[album.id].track_count == 0 and world.indexer.runs == []
    assert world.catalogue.calls["drop_track"] == 2  # refused once as held, then from a fresh read


def test_an_update_of_a_track_another_writer_created_after_the_held_read_is_applied() -> None:
    world = World()
    artist = world.artist("ann")
    world.ingest.apply([commit(artist.did, create("t1", "One"))])  # the artist's tracks are held now
    # An API attach (or the indexer) creates t9 from its first version meanwhile.
    world.catalogue.add_new_tracks([replace(track(artist, "t9"), id=world.catalogue.reserve_track_ids(1)[0])])
    report = world.ingest.apply([commit(artist.did, update("t9", "Nine (edit)", "bafyt9b"))])
    now = world.track_of(artist, "t9")
    assert now is not None and (now.title, now.record_cid) == ("Nine (edit)", "bafyt9b")
    assert report.counts["tracks_created"] == 0 and report.counts["tracks_updated"] == 1
