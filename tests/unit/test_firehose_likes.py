"""Likes (services/firehose/likes.py, like_reads.py, like_reread.py) on the fakes: counted once
per (liker, track), many to a transaction, one by one when refused; orphans, tombstones,
hand-overs; likes read from the liker's PDS; a liker's likes reconciled after a gap."""

from __future__ import annotations

from dataclasses import replace

from albums_core.adapters.atproto.xrpc import PdsUnavailable
from albums_core.domain.firehose_events import LIKE, MISSING_BLOCK, TRACK, RecordOp
from albums_core.domain.read_budget import ReadBudget
from albums_core.services.firehose.held import HeldCatalogue
from albums_core.services.firehose.like_reads import LikeReads
from albums_core.services.firehose.like_reread import LIKES_JOB, LikeReread, request_like_reread
from albums_core.services.firehose.likes import LikeIngest
from tests.fakes.jobs import FakeJobQueue
from tests.unit.firehose_world import World, commit, create, delete, like, like_value, track

FAN = "did:plc:fanxxxxxxxxxxxxxxxxxxxxx"
OTHER = "did:plc:otherxxxxxxxxxxxxxxxxxxx"


def test_likes_count_once_many_to_a_transaction_and_a_replay_changes_nothing() -> None:
    world = World()
    artist = world.artist("liked")
    world.ingest.apply([commit(artist.did, *(create(f"k{i}", f"Liked {i}") for i in range(40)))])
    tracks = sorted(world.catalogue.artist_tracks(artist.did), key=lambda t: t.id)
    batch = [
        commit(FAN, *(like(f"a{i}", t) for i, t in enumerate(tracks))),
        commit(OTHER, *(like(f"b{i}", t) for i, t in enumerate(tracks[:20])), like("b-again", tracks[0])),
    ]
    report = world.ingest.apply(batch)
    assert report.counts["likes_applied"] == 60 and report.counts["likes_duplicate"] == 1
    # 60 likes in transactions of at most 33; the duplicate refuses its transaction, then one by one.
    assert world.likes.calls["add_likes"] <= 6
    counts = world.like_counts(artist)
    assert sorted(counts.values()) == [1] * 20 + [2] * 20
    assert world.likes.counted(OTHER) == {t.id for t in tracks[:20]}

    replay = world.fresh().apply([commit(c.repo, *c.ops) for c in batch])  # later revs, same records
    assert replay.counts["likes_applied"] == 0 and replay.counts["likes_replayed"] == 61
    assert world.like_counts(artist) == counts


def test_unlikes_tombstones_and_a_duplicate_taking_over() -> None:
    world = World()
    artist = world.artist("unliked")
    world.ingest.apply([commit(artist.did, create("d1", "Doubled"), create("d2", "Single"))])
    doubled, single = world.track_of(artist, "d1"), world.track_of(artist, "d2")
    assert doubled is not None and single is not None
    world.ingest.apply([commit(FAN, like("x1", doubled), like("s1", single))])
    assert world.ingest.apply([commit(FAN, like("x2", doubled))]).counts["likes_duplicate"] == 1

    report = world.ingest.apply([commit(FAN, delete(LIKE, "s1"), delete(LIKE, "never-seen"))])
    assert report.counts["unlikes_applied"] == 1 and report.counts["unlikes_tombstoned"] == 1
    late = world.ingest.apply([commit(FAN, like("never-seen", single))])  # the tombstone holds
    assert late.counts["likes_applied"] == 0 and world.like_counts(artist)["d2"] == 0

    # The counted record of the doubled like goes: the duplicate takes over, the count stays.
    handed = world.ingest.apply([commit(FAN, delete(LIKE, "x1"))])
    assert handed.counts["unlikes_handed_over"] == 1 and world.like_counts(artist)["d1"] == 1
    assert world.ingest.apply([commit(FAN, delete(LIKE, "x2"))]).counts["unlikes_applied"] == 1
    assert world.like_counts(artist)["d1"] == 0 and world.likes.counted(FAN) == set()


def test_a_like_that_came_before_its_track_counts_once_the_track_is_created() -> None:
    world = World()
    artist = world.artist("early")
    uri = f"at://{artist.did}/{TRACK}/later"
    early = world.ingest.apply([commit(FAN, like("e1", uri), like("e2", uri)), commit(OTHER, like("o1", uri))])
    assert early.counts["likes_orphan"] == 3 and early.counts["likes_applied"] == 0
    assert world.ingest.apply([commit(OTHER, delete(LIKE, "o1"))]).counts["unlikes_applied"] == 1

    report = world.fresh().apply([commit(artist.did, create("later", "Later"))])
    assert report.counts["orphans_applied"] == 1 and report.counts["orphans_duplicate"] == 1
    assert world.like_counts(artist) == {"later": 1} and world.likes.orphans(artist.did) == []


def test_likes_whose_blocks_are_missing_are_read_from_the_likers_pds_within_the_budget() -> None:
    world = World()
    artist = world.artist("blocks")
    world.ingest.apply([commit(artist.did, create("b1", "Read"))])
    subject = world.track_of(artist, "b1")
    assert subject is not None
    world.identities.add(FAN, "fan.test")
    world.pds.put(FAN, LIKE, "r1", like_value(subject))
    unread = [RecordOp("create", LIKE, rkey, None, None, MISSING_BLOCK) for rkey in ("r1", "r-gone")]
    report = world.ingest.apply([commit(FAN, *unread)])
    assert report.counts["likes_read"] == 1 and report.counts["skipped_like_gone"] == 1
    assert world.like_counts(artist) == {"b1": 1} and FAN in world.repos.states

    # A PDS that cannot answer: nothing counted, the rev not recorded (a replay reads again).
    world.pds.faults.fail("get_record", lambda: PdsUnavailable("down"))
    failed = commit(OTHER, RecordOp("create", LIKE, "q1", None, None, MISSING_BLOCK))
    world.identities.add(OTHER, "other.test")
    assert world.ingest.apply([failed]).counts["failed_like_read"] == 1
    assert OTHER not in world.repos.states


def test_a_likers_likes_are_reconciled_after_a_gap_without_the_rest_of_ingestion() -> None:
    world = World()
    artist = world.artist("gap")
    world.ingest.apply([commit(artist.did, *(create(f"g{i}", f"Gap {i}") for i in range(3)))])
    first, second, third = sorted(world.catalogue.artist_tracks(artist.did), key=lambda t: t.id)
    world.ingest.apply([commit(FAN, like("kept", first), like("withdrawn", second))])
    world.ingest.apply([commit(FAN, delete(LIKE, "tomb"))])  # a tombstone: not a like that went
    world.identities.add(FAN, "fan.test")
    world.pds.put(FAN, LIKE, "kept", like_value(first))
    world.pds.put(FAN, LIKE, "given", like_value(third))

    # Only what likes need: the held catalogue, the like store, the PDS and identities.
    held = HeldCatalogue(world.catalogue, world.pages)
    likes = LikeIngest(held, world.likes, world.catalogue)
    reads = LikeReads(likes, world.likes, world.pds, world.identities, lambda: ReadBudget(2.0, 20, world.clock))
    jobs = FakeJobQueue()
    job = request_like_reread(FAN, jobs, job_id="gap-likes-1")
    assert job == "gap-likes-1" and request_like_reread(FAN, jobs, job_id=job) is None
    assert jobs.jobs[job]["kind"] == LIKES_JOB
    reread = LikeReread(jobs, reads.reread)
    assert reread.run(job) == "done" and reread.run(job) == "gone"
    assert world.like_counts(artist) == {"g0": 1, "g1": 0, "g2": 1}
    assert reads.reread(FAN)["applied"] == 0  # read again: nothing changes


def test_chunks_never_hold_one_liker_and_track_twice() -> None:
    from albums_core.services.firehose.likes import chunks

    world = World()
    artist = world.artist("chunky")
    one = world.catalogue.add_track(track(artist, "c1"))
    rows = [(FAN, f"r{i}", one, None) for i in range(3)] + [(OTHER, f"s{i}", one, None) for i in range(40)]
    out = chunks(rows)
    assert all(len(c) <= 33 for c in out)
    assert all(len({(r[0], r[2].id) for r in c}) == len(c) for c in out)
    assert sum(len(c) for c in out) == len(rows)


def test_a_like_after_an_album_is_renamed_drops_the_page_under_its_current_slug() -> None:
    world = World()
    artist = world.artist("renamed")
    album, (first, second) = world.album(artist, "before", "r1", "r2")
    world.ingest.apply([commit(FAN, like("l1", first))])  # the artist's albums are held now
    # Renamed through the API meanwhile (its new slug's page may be cached since).
    world.catalogue.albums[album.id] = replace(world.catalogue.albums[album.id], slug="after", title="After")
    world.pages.dropped.clear()
    world.pages.dropped_ids.clear()
    world.ingest.apply([commit(FAN, like("l2", second), like("l3", first))])
    slugs = [slug for _, slug in world.pages.dropped]
    slugs += [world.catalogue.albums[album_id].slug for album_id in world.pages.dropped_ids]
    assert slugs == ["after"]  # the current page, once for the batch
