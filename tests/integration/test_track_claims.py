"""One track, one album: a track record is claimed for an album before anything is written to
the PDS for it, and the claim becomes its membership in the transaction that moves it in."""

from __future__ import annotations

import multiprocessing
import queue

import pytest

from albums_core import bootstrap
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.domain.errors import Conflict
from albums_core.services.album_admin import TRACK_TAKEN
from tests.integration import racing
from tests.integration.write_fixtures import Artist

ROUNDS = 4


def items_of(artist: Artist, list_uri: str) -> list[str]:
    return [i["subject"]["uri"] for i in artist.record(list_uri).value["items"]]


def members(album_id: str) -> set[str]:
    loaded = CatalogueWriter().load_album(album_id)
    assert loaded is not None
    return {t.record_uri for t in loaded[1] if t.record_uri}


def test_two_processes_attaching_one_track_to_two_albums(alice: Artist) -> None:
    _, x = alice.admin().create("Claim X")
    _, y = alice.admin().create("Claim Y")
    # Half already indexed as standalone tracks, half known only on the PDS.
    uris = [alice.publish_track(f"Contested {i}") for i in range(ROUNDS // 2)]
    bootstrap.indexing().sync_artist(alice.caller.artist)
    assert {t.record_uri for t in CatalogueWriter().artist_tracks(alice.did)} == set(uris)
    uris += [alice.publish_track(f"Contested {i}") for i in range(ROUNDS // 2, ROUNDS)]
    session_id = alice.caller.session.session_id
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=racing.attach_each, args=(session_id, album["id"], uris, barrier, results))
        for album in (x, y)
    ]
    for w in workers:
        w.start()
    outcomes = []
    try:
        for _ in range(2 * ROUNDS):
            outcomes.append(results.get(timeout=180))
    except queue.Empty:
        pytest.fail(f"the racing processes did not answer: {outcomes}")
    finally:
        for w in workers:
            w.join(timeout=30)
            if w.is_alive():
                w.kill()
    titles = {x["id"]: "Claim X", y["id"]: "Claim Y"}
    lists = {x["id"]: x["list_uri"], y["id"]: y["list_uri"]}
    listed = {album_id: items_of(alice, list_uri) for album_id, list_uri in lists.items()}
    held = {album_id: members(album_id) for album_id in lists}
    for uri in uris:
        answers = sorted((status, album_id, body) for album_id, u, status, body in outcomes if u == uri)
        assert [a[0] for a in answers] == [200, 409], answers
        assert answers[1][2] == {"detail": TRACK_TAKEN}
        winner, loser = answers[0][1], answers[1][1]
        assert uri in held[winner] and uri not in held[loser]
        assert uri in listed[winner] and uri not in listed[loser]
        assert alice.record(uri).value["album"] == titles[winner]
    for album_id in lists:
        album = CatalogueWriter().get_album(album_id)
        assert album is not None and album.track_count == len(held[album_id]) == len(listed[album_id])
    assert sum(len(h) for h in held.values()) == ROUNDS


def test_the_loser_writes_nothing_and_a_released_track_moves_freely(alice: Artist) -> None:
    _, x = alice.admin().create("Holder")
    _, y = alice.admin().create("Taker")
    uri = alice.publish_track("Wanderer")
    alice.admin().attach(x["id"], [uri])
    before = {u: alice.record(u).cid for u in (uri, x["list_uri"], y["list_uri"])}
    with pytest.raises(Conflict) as err:
        alice.admin().attach(y["id"], [uri])
    assert err.value.detail == TRACK_TAKEN
    assert {u: alice.record(u).cid for u in before} == before
    # Out of X, it may go to Y; deleted with Y (orphaned), it may go back to X.
    track_id = next(t.id for t in CatalogueWriter().artist_tracks(alice.did) if t.record_uri == uri)
    alice.admin().remove_track(x["id"], track_id)
    alice.admin().attach(y["id"], [uri])
    assert uri in members(y["id"]) and items_of(alice, y["list_uri"]) == [uri]
    alice.admin().delete(y["id"], cascade=False)
    alice.admin().attach(x["id"], [uri])
    assert members(x["id"]) == {uri} and alice.record(uri).value["album"] == "Holder"


def test_a_pending_claim_blocks_until_its_lease_lapses(alice: Artist) -> None:
    _, x = alice.admin().create("Slow One")
    _, y = alice.admin().create("Fast One")
    uri = alice.publish_track("Pending")
    repo = CatalogueWriter()
    # An attach to X that claimed the track, then died before its PDS writes.
    assert repo.claim_tracks(alice.did, x["id"], [uri], "dead-request", 60) == []
    with pytest.raises(Conflict) as err:
        alice.admin().attach(y["id"], [uri])
    assert err.value.detail == TRACK_TAKEN and "album" not in alice.record(uri).value
    # The same album repeating its request finishes the job.
    alice.admin().attach(x["id"], [uri])
    assert members(x["id"]) == {uri}
    # A lapsed pending claim of another album does not block.
    other = alice.publish_track("Lapsed")
    assert repo.claim_tracks(alice.did, x["id"], [other], "dead-request", -1) == []
    alice.admin().attach(y["id"], [other])
    assert members(y["id"]) == {other}


def test_a_track_the_firehose_indexes_during_an_attach_is_moved_not_copied(alice: Artist) -> None:
    """An artist publishes a track in another client and adds it here at once: the consumer
    applies the record's create (a standalone track item) after the request read the artist's
    tracks and before it wrote. The request moves that item into the album; it used to create a
    second item for the same record (the track then existed twice, with two ids)."""
    from albums_core.domain.records import new_track

    _, album = alice.admin().create("Moved Not Copied")
    uri = alice.publish_track("Just Published")
    record = alice.record(uri)

    class FirehoseMeanwhile(CatalogueWriter):
        def claim_tracks(self, did: str, album_id: str, uris: list[str], token: str, seconds: int) -> list[str]:
            if not any(t.record_uri == uri for t in self.artist_tracks(did)):
                (track_id,) = self.reserve_track_ids(1)
                self.add_new_tracks([new_track(track_id, did, None, uri, record.cid, record.value)])
            return super().claim_tracks(did, album_id, uris, token, seconds)

    bootstrap.album_admin(alice.caller, repo=FirehoseMeanwhile()).attach(album["id"], [uri])
    copies = [t for t in CatalogueWriter().artist_tracks(alice.did) if t.record_uri == uri]
    assert [t.album_id for t in copies] == [album["id"]]
    loaded = CatalogueWriter().load_album(album["id"])
    assert loaded is not None and loaded[0].track_count == 1 and len(loaded[1]) == 1
