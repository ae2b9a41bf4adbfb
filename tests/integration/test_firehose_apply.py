"""The consumer's apply path against moto (tables from template.yaml), with commits built by hand:
track records applied from the values the commits carry, the indexer only where that path cannot
decide (a list, a track a list names, a write that raced), likes many to a transaction and one by
one when a condition refuses them. Replays, duplicates and stale reads change nothing."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters.atproto.commit_verify import Refusal
from albums_core.adapters.atproto.xrpc import Listing
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.firehose_state import FirehoseState
from albums_core.adapters.dynamodb.page_cache import AlbumPageCache, album_cache_key
from albums_core.domain.firehose_events import LIKE, TRACK, Commit, RecordOp
from albums_core.domain.models import Artist, Track
from albums_core.services.firehose_ingest import Ingest
from tests.integration.factory import make_album, make_artist

_revs = itertools.count(1)
_seqs = itertools.count(1)


def rev() -> str:
    return f"3m{next(_revs):011d}"


def commit(repo: str, *ops: RecordOp, at: str | None = None) -> Commit:
    return Commit(next(_seqs), repo, at or rev(), "2026-12-01T00:00:00Z", tuple(ops))


def track_value(title: str, created: str = "2026-11-01T00:00:00Z", **extra: Any) -> dict[str, Any]:
    return {"$type": TRACK, "title": title, "artist": "A", "fileType": "mp3", "createdAt": created, **extra}


def create(rkey: str, title: str, cid: str | None = None, **extra: Any) -> RecordOp:
    return RecordOp("create", TRACK, rkey, cid or f"bafy{rkey}", track_value(title, **extra))


def update(rkey: str, title: str, cid: str, **extra: Any) -> RecordOp:
    return RecordOp("update", TRACK, rkey, cid, track_value(title, **extra))


def delete(collection: str, rkey: str) -> RecordOp:
    return RecordOp("delete", collection, rkey)


def like(rkey: str, track: Track) -> RecordOp:
    value = {"$type": LIKE, "subject": {"uri": track.record_uri, "cid": track.record_cid or "bafyx"}}
    return RecordOp("create", LIKE, rkey, f"bafylike{rkey}", value)


class Trusted:
    """These commits are built by hand without proofs (their CIDs are names): what is tested
    here is applying them, so each is taken as verified (tests/unit/test_commit_verify.py and
    test_firehose_verify.py test the verification). Counts the commits it was asked about."""

    def __init__(self) -> None:
        self.checked: list[int] = []

    def check(self, commit: Commit) -> Refusal | None:
        self.checked.append(commit.seq)
        return None


TRUSTED = Trusted()


class Recorder:
    """The indexer the consumer falls back to, recorded (the real one reads a PDS)."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    def __call__(self, artist: Artist, repo: CatalogueWriter, budget: Any = None) -> dict[str, int]:
        self.runs.append(artist.did)
        return {}


class Lists:
    """The artist's list records the consumer reads when a new track might be named by one."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.reads = 0

    def __call__(self, pds_url: str, did: str, collection: str, **_: Any) -> Listing:
        self.reads += 1
        value = {
            "$type": "fm.plyr.list",
            "listType": "album",
            "name": "Named",
            "items": [{"subject": {"uri": u, "cid": "bafyz"}} for u in self.items],
        }

        class Record:
            pass

        record = Record()
        record.value = value  # type: ignore[attr-defined]
        return Listing([record], complete=True)  # type: ignore[list-item]


@pytest.fixture
def setup(repo: CatalogueRepository) -> tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists]:
    writer = CatalogueWriter(repo.table, repo.client)
    artist = make_artist(repo, f"fh{next(_seqs)}.test", pds_url="http://127.0.0.1:9")
    recorder, lists = Recorder(), Lists()
    ingest = Ingest(FirehoseState(writer), writer, indexer=recorder, list_records=lists, verifier=TRUSTED)
    return ingest, writer, artist, recorder, lists


def tracks_by_rkey(writer: CatalogueWriter, did: str) -> dict[str, Track]:
    return {str(t.record_uri).rsplit("/", 1)[1]: t for t in writer.artist_tracks(did)}


def test_track_records_are_applied_from_the_commits_and_a_replay_changes_nothing(
    setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists],
) -> None:
    ingest, writer, artist, recorder, _ = setup
    did = artist.did
    batch = [
        commit(did, create("t1", "One"), create("t2", "Two")),
        commit(did, create("t3", "Three", duration=200)),
        commit(did, update("t2", "Two (edit)", "bafyt2b", created="2026-10-01T00:00:00Z")),
        commit(did, create("t4", "Gone soon")),
        commit(did, delete(TRACK, "t4")),
        commit(did, delete(TRACK, "never-held")),
    ]
    report = ingest.apply(batch)
    held = tracks_by_rkey(writer, did)
    assert sorted(held) == ["t1", "t2", "t3"]
    assert (held["t2"].title, held["t2"].record_cid, held["t2"].created_at) == (
        "Two (edit)",
        "bafyt2b",
        "2026-10-01T00:00:00Z",
    )
    assert held["t3"].duration == 200 and held["t1"].album_id is None
    assert len({t.id for t in held.values()}) == 3
    assert recorder.runs == []  # no list anywhere: never the indexer
    assert report.counts["applied"] == 7 and report.counts["tracks_created"] == 3

    # The same commits again (a reconnect replays them), to this container and to a new one.
    assert ingest.apply(batch).counts["applied"] == 0
    fresh = Ingest(FirehoseState(writer), writer, indexer=recorder, verifier=TRUSTED)
    assert fresh.apply(batch).counts["skipped_replayed"] == len(batch)
    assert tracks_by_rkey(writer, did) == held

    # Our own write coming back (the same CID and fields): nothing written.
    again = ingest.apply([commit(did, update("t2", "Two (edit)", "bafyt2b", created="2026-10-01T00:00:00Z"))])
    assert again.counts["applied_own"] == 1 and again.counts["applied"] == 0


def test_an_album_track_is_updated_in_place_and_its_delete_drops_the_counters(
    repo: CatalogueRepository, setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists]
) -> None:
    ingest, writer, artist, recorder, _ = setup
    album, tracks = make_album(repo, artist, "Held Album", tracks=2, plays=3)
    first, second = tracks
    state = FirehoseState(writer)
    assert state.add_like("did:plc:fan", "l1", first, "bafy") == "applied"
    cache = AlbumPageCache()
    assert cache.put(album_cache_key(artist.handle, album.slug), '{"stale": true}', int(time.time() * 1000))
    assert cache.get(album_cache_key(artist.handle, album.slug)) is not None
    rkey = str(first.record_uri).rsplit("/", 1)[1]
    ingest.apply([commit(artist.did, update(rkey, "Renamed elsewhere", "bafynew"))])
    loaded = writer.load_album(album.id)
    assert loaded is not None
    now = {t.id: t for t in loaded[1]}[first.id]
    assert (now.title, now.record_cid, now.like_count, now.play_count, now.album_id) == (
        "Renamed elsewhere",
        "bafynew",
        1,
        3,
        album.id,
    )
    assert cache.get(album_cache_key(artist.handle, album.slug)) is None  # the page is dropped

    # Both tracks deleted elsewhere: counters exact, and the empty album leaves the listing.
    other = str(second.record_uri).rsplit("/", 1)[1]
    ingest.apply([commit(artist.did, delete(TRACK, rkey), delete(TRACK, other))])
    loaded = writer.load_album(album.id)
    assert loaded is not None and loaded[1] == []
    assert (loaded[0].track_count, loaded[0].total_plays) == (0, 0)
    listed, _ = writer.listed_albums_page(100, None)
    assert album.id not in {a.id for a in listed}
    assert recorder.runs == []


def test_a_write_that_raced_is_read_again_then_left_to_the_indexer(
    repo: CatalogueRepository, setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists]
) -> None:
    """The held copy is stale (a request moved the track into an album after it was read): the
    conditional update is refused, the catalogue read again, and the update lands where the
    track is now. A write refused again after that goes to the indexer."""
    ingest, writer, artist, recorder, _ = setup
    ingest.apply([commit(artist.did, create("m1", "Mover"))])
    track = tracks_by_rkey(writer, artist.did)["m1"]
    album, _ = make_album(repo, artist, "Elsewhere")
    assert writer.claim_tracks(artist.did, album.id, [str(track.record_uri)], "token", 60) == []
    writer.move_tracks_into(album, [(track, replace(track, album_id=album.id))])
    ingest.apply([commit(artist.did, update("m1", "Changed", "bafym1b"))])
    moved = tracks_by_rkey(writer, artist.did)["m1"]
    assert (moved.title, moved.record_cid, moved.album_id) == ("Changed", "bafym1b", album.id)
    assert len(writer.artist_tracks(artist.did)) == 1  # moved, not copied
    assert recorder.runs == []

    class Refusing(CatalogueWriter):
        """Another writer changes the item every time this one reads it (a fault we can only
        stage): its conditional update is always refused."""

        def update_track_record(self, before: Track, after: Track) -> bool:
            return False

    refusing = Refusing(repo.table, repo.client)
    stubborn = Ingest(FirehoseState(refusing), refusing, indexer=recorder, verifier=TRUSTED)
    report = stubborn.apply([commit(artist.did, update("m1", "Again", "bafym1c"))])
    assert recorder.runs == [artist.did] and report.counts["fallback_indexings"] == 1


def test_a_new_track_a_list_names_is_left_to_the_indexer(
    repo: CatalogueRepository, setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists]
) -> None:
    ingest, writer, artist, recorder, lists = setup
    make_album(repo, artist, "Has A List")
    lists.items = [f"at://{artist.did}/{TRACK}/named"]
    ingest.apply([commit(artist.did, create("loose", "Loose"))])
    assert recorder.runs == [] and lists.reads == 1
    ingest.apply([commit(artist.did, create("named", "Named"))])
    assert recorder.runs == [artist.did]
    assert "named" not in tracks_by_rkey(writer, artist.did)


def test_likes_count_once_in_batches_and_one_by_one_when_refused(
    setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists],
) -> None:
    ingest, writer, artist, _, _ = setup
    ingest.apply([commit(artist.did, *(create(f"k{i}", f"Liked {i}") for i in range(40)))])
    tracks = sorted(writer.artist_tracks(artist.did), key=lambda t: t.id)
    fan_a, fan_b = "did:plc:fana" + artist.did[-6:], "did:plc:fanb" + artist.did[-6:]
    likes_a = [like(f"a{i}", t) for i, t in enumerate(tracks)]
    likes_b = [like(f"b{i}", t) for i, t in enumerate(tracks[:20])]
    # fan_b likes track 0 twice (two records) in the same batch: one counts, one is a duplicate.
    batch = [commit(fan_a, *likes_a), commit(fan_b, *likes_b, like("b-again", tracks[0]))]
    calls = ingest.state.calls
    report = ingest.apply(batch)
    assert report.counts["likes_applied"] == 60 and report.counts["likes_duplicate"] == 1
    assert ingest.state.calls - calls < 15  # transactions of up to 33 likes, not one each
    counts = {t.id: t.like_count for t in writer.artist_tracks(artist.did)}
    assert [counts[t.id] for t in tracks] == [2] * 20 + [1] * 20
    assert writer.liked_track_ids(fan_b, [t.id for t in tracks]) == {t.id for t in tracks[:20]}

    # The same like records again under later revs (another container, a relay's duplicate):
    # each transaction is refused, then one by one every like is known: nothing changes.
    fresh = Ingest(FirehoseState(writer), writer, verifier=TRUSTED)
    replay = fresh.apply([replace(c, rev=rev()) for c in batch])
    assert replay.counts["likes_applied"] == 0 and replay.counts["likes_replayed"] == 61
    assert {t.id: t.like_count for t in writer.artist_tracks(artist.did)} == counts

    # Unlikes, many to a transaction; one never seen leaves a tombstone a later create respects.
    unlikes = [delete(LIKE, f"a{i}") for i in range(30)] + [delete(LIKE, "never-seen")]
    report = ingest.apply([commit(fan_a, *unlikes)])
    assert report.counts["unlikes_applied"] == 30 and report.counts["unlikes_tombstoned"] == 1
    counts = {t.id: t.like_count for t in writer.artist_tracks(artist.did)}
    assert [counts[t.id] for t in tracks] == [1] * 20 + [0] * 10 + [1] * 10
    late = ingest.apply([commit(fan_a, like("never-seen", tracks[35]))])
    assert late.counts["likes_applied"] == 0
    assert {t.id: t.like_count for t in writer.artist_tracks(artist.did)}[tracks[35].id] == 1


def test_a_like_that_came_before_its_track_counts_once_the_track_is_held(
    setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists],
) -> None:
    ingest, writer, artist, _, _ = setup
    fan, other = "did:plc:early" + artist.did[-6:], "did:plc:other" + artist.did[-6:]
    uri = f"at://{artist.did}/{TRACK}/later"
    subject = Track(0, "", artist.did, "", "", "", record_uri=uri, record_cid="bafylater")
    withdrawn = f"at://{artist.did}/{TRACK}/withdrawn"
    early = ingest.apply(
        [
            commit(fan, like("e1", subject), like("e2", subject)),  # two records, one (fan, track)
            commit(other, like("o1", subject), like("o2", replace(subject, record_uri=withdrawn))),
        ]
    )
    assert early.counts["likes_orphan"] == 4 and early.counts["likes_applied"] == 0
    gone = ingest.apply([commit(other, delete(LIKE, "o2"))])  # deleted before its track came
    assert gone.counts["unlikes_applied"] == 1

    # A new container (nothing held) sees the track created: the orphans count now, once.
    fresh = Ingest(FirehoseState(writer), writer, verifier=TRUSTED)
    report = fresh.apply([commit(artist.did, create("later", "Later"), create("withdrawn", "Withdrawn"))])
    assert report.counts["orphans_applied"] == 2 and report.counts["orphans_duplicate"] == 1
    counts = {str(t.record_uri): t.like_count for t in writer.artist_tracks(artist.did)}
    assert counts == {uri: 2, withdrawn: 0}
    assert fresh.state.orphans(artist.did) == []
    track = tracks_by_rkey(writer, artist.did)["later"]
    assert writer.liked_track_ids(fan, [track.id]) == {track.id}

    # The fan deletes the record that counted: the duplicate takes over, the count stays.
    counted = next(r for r in ("e1", "e2") if fresh.state.like_record(fan, r)["state"] == "counted")  # type: ignore[index]
    handed = fresh.apply([commit(fan, delete(LIKE, counted))])
    assert handed.counts["unlikes_handed_over"] == 1
    assert tracks_by_rkey(writer, artist.did)["later"].like_count == 2
    assert writer.liked_track_ids(fan, [track.id]) == {track.id}
    # ...and deleting the other one too: the fan no longer likes it.
    heir = "e2" if counted == "e1" else "e1"
    fresh.apply([commit(fan, delete(LIKE, heir))])
    assert tracks_by_rkey(writer, artist.did)["later"].like_count == 1
    assert writer.liked_track_ids(fan, [track.id]) == set()


def test_a_duplicate_like_deleted_first_leaves_the_counted_one(
    setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists],
) -> None:
    ingest, writer, artist, _, _ = setup
    ingest.apply([commit(artist.did, create("d1", "Doubled"))])
    track = tracks_by_rkey(writer, artist.did)["d1"]
    fan = "did:plc:twice" + artist.did[-6:]
    ingest.apply([commit(fan, like("x1", track))])
    assert ingest.apply([commit(fan, like("x2", track))]).counts["likes_duplicate"] == 1
    ingest.apply([commit(fan, delete(LIKE, "x2"))])
    assert tracks_by_rkey(writer, artist.did)["d1"].like_count == 1
    # The counted one deleted now: nothing left to hand over to, the like goes.
    assert ingest.apply([commit(fan, delete(LIKE, "x1"))]).counts["unlikes_applied"] == 1
    assert tracks_by_rkey(writer, artist.did)["d1"].like_count == 0
    assert writer.liked_track_ids(fan, [track.id]) == set()


def test_a_list_change_goes_to_the_indexer_unless_it_is_our_own_write_coming_back(
    repo: CatalogueRepository, setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists]
) -> None:
    ingest, writer, artist, recorder, _ = setup
    album, tracks = make_album(repo, artist, "Ours", tracks=2)
    assert album.list_uri
    writer.set_album_fields(album, list_cid="bafylist1")
    list_rkey = album.list_uri.rsplit("/", 1)[1]
    value = {"$type": "fm.plyr.list", "listType": "album", "name": "Ours", "items": []}
    track_rkey = str(tracks[0].record_uri).rsplit("/", 1)[1]
    ours = commit(
        artist.did,
        RecordOp("update", "fm.plyr.list", list_rkey, "bafylist1", value),
        RecordOp("update", TRACK, track_rkey, tracks[0].record_cid, track_value(tracks[0].title)),
    )
    assert ingest.apply([ours]).counts["applied_own"] == 2
    assert recorder.runs == []
    theirs = commit(artist.did, RecordOp("update", "fm.plyr.list", list_rkey, "bafylist2", value))
    ingest.apply([theirs])
    assert recorder.runs == [artist.did]


def test_a_likers_likes_are_read_again_after_a_gap(
    setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists],
) -> None:
    """After an OutdatedCursor gap, a job per liker reconciles what we hold with the likes their
    PDS lists: a like deleted in the gap is uncounted, one given in it counted, once."""
    from albums_core.adapters.atproto.identity import Identity
    from albums_core.adapters.atproto.xrpc import Record
    from albums_core.adapters.dynamodb.jobs import CleanupJobs
    from albums_core.services.like_reread import request_like_reread, run_like_reread

    ingest, writer, artist, _, _ = setup
    ingest.apply([commit(artist.did, *(create(f"g{i}", f"Gap {i}") for i in range(3)))])
    tracks = sorted(writer.artist_tracks(artist.did), key=lambda t: t.id)
    fan = "did:plc:gapfan" + artist.did[-6:]
    ingest.apply([commit(fan, like("kept", tracks[0]), like("withdrawn", tracks[1]))])
    ingest.apply([commit(fan, delete(LIKE, "tomb"))])  # a tombstone: not to be read as a like

    def listed(pds_url: str, did: str, collection: str, **_: Any) -> Listing:
        assert (did, collection) == (fan, LIKE)
        given = like("given-in-gap", tracks[2])
        kept = like("kept", tracks[0])
        records = [Record(f"at://{fan}/{LIKE}/{op.rkey}", op.cid or "", op.value or {}) for op in (kept, given)]
        return Listing(records, complete=True)

    def resolve(did: str) -> Identity:
        return Identity(did, "gapfan.test", "http://127.0.0.1:9")

    job = request_like_reread(fan, writer, job_id="gap-likes-1")
    assert job == "gap-likes-1" and request_like_reread(fan, writer, job_id="gap-likes-1") is None
    reader = Ingest(FirehoseState(writer), writer, resolve=resolve, list_records=listed, verifier=TRUSTED)
    assert run_like_reread(job, writer, ingest=reader) == "done"
    counts = {t.id: t.like_count for t in writer.artist_tracks(artist.did)}
    assert [counts[t.id] for t in tracks] == [1, 0, 1]
    assert writer.liked_track_ids(fan, [t.id for t in tracks]) == {tracks[0].id, tracks[2].id}
    assert CleanupJobs(writer).get(job) is None and run_like_reread(job, writer, ingest=reader) == "gone"
    # Read again (a stream record delivered twice, another gap): nothing changes.
    again = reader.reread_likes(fan)
    assert again["applied"] == 0
    assert {t.id: t.like_count for t in writer.artist_tracks(artist.did)} == counts


def test_a_gap_requests_a_like_reread_for_each_liker_we_know(
    setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists],
) -> None:
    from albums_core.adapters.dynamodb.jobs import CleanupJobs
    from albums_core.services.firehose_gap import GapBackfill, job_id
    from albums_core.services.like_reread import LIKES_JOB

    ingest, writer, artist, _, _ = setup
    ingest.apply([commit(artist.did, create("liked", "Liked"))])
    (track,) = writer.artist_tracks(artist.did)
    fans = [f"did:plc:fan{n}" + artist.did[-6:] for n in range(3)]
    for n, fan in enumerate(fans):
        ingest.apply([commit(fan, like(f"l{n}", track), like(f"m{n}", track))])  # two records each
    state = FirehoseState(writer)
    assert state.acquire("relay.test", "run", 30) is not None
    gap = GapBackfill("relay.test", "run", *bootstrap.gap_ports(writer), page_size=2)
    assert gap.outdated(42)
    while gap.pending:
        gap.step()
    jobs = CleanupJobs(writer)
    for fan in fans:
        (job,) = [j for j in jobs.of_artist(fan) if j.get("kind") == LIKES_JOB]  # once, though on two pages
        assert job["job_id"] == job_id(gap.run_id, f"likes/{fan}")
    assert [j["kind"] for j in jobs.of_artist(artist.did)] == ["index_artist"]
    assert gap.counts["gap_jobs"] == 1 + len(fans)


def test_a_track_a_request_indexed_since_the_held_read_is_not_created_twice(
    setup: tuple[Ingest, CatalogueWriter, Artist, Recorder, Lists],
) -> None:
    """The artist creates a track record in another client and adds it to an album through our
    API at once: the request indexes the record (a track item) before the consumer applies the
    record's create commit. The consumer's held copy of the artist's tracks was read before the
    request wrote: the create is not taken for a new track (it was, and the album page listed
    the track twice, each copy with its own id)."""
    from albums_core.domain.records import new_track

    ingest, writer, artist, recorder, _ = setup
    did = artist.did
    ingest.apply([commit(did, create("p1", "Read before the request"))])  # the held copy is read
    uri = f"at://{did}/{TRACK}/d1"
    (track_id,) = writer.reserve_track_ids(1)
    writer.add_new_tracks([new_track(track_id, did, None, uri, "bafyd1", track_value("Indexed by a request"))])
    report = ingest.apply([commit(did, create("d1", "Indexed by a request", cid="bafyd1"))])
    copies = [t for t in writer.artist_tracks(did) if t.record_uri == uri]
    assert [t.id for t in copies] == [track_id]
    assert report.counts["tracks_created"] == 0 and recorder.runs == []
