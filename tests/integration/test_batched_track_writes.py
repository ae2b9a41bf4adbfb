"""Per-track writes of the album mutations in transactions (against moto): the track CIDs SET
alone (never the counters that plays and likes ADD meanwhile), a transaction cancelled by a
conflicting one (TransactionCanceledException, reason TransactionConflict) tried again whole,
nothing half-written when the conflicts persist; the pending claims of an attach likewise."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.codec import from_item, to_item
from albums_core.domain.errors import ConcurrentUpdate
from albums_core.domain.models import Album, Track
from albums_core.domain.records import TRACK, new_track
from tests.integration.factory import make_artist

VALUE = {"$type": TRACK, "title": "Batched", "artist": "A", "fileType": "mp3", "createdAt": "2026-11-01T00:00:00Z"}


def conflict(actions: int) -> ClientError:
    reasons = [{"Code": "None"}] * actions
    reasons[0] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": reasons,
        },
        "TransactWriteItems",
    )


class Conflicting:
    """The client, whose next `conflicts` transactions are cancelled by a conflicting one;
    `meanwhile` runs before each cancelled one (another writer's change)."""

    def __init__(self, client: Any, conflicts: int, meanwhile: Any = None) -> None:
        self._client = client
        self.conflicts = conflicts
        self.meanwhile = meanwhile
        self.transactions: list[int] = []

    def transact_write_items(self, **params: Any) -> Any:
        self.transactions.append(len(params["TransactItems"]))
        if self.conflicts > 0:
            self.conflicts -= 1
            if self.meanwhile:
                self.meanwhile()
            raise conflict(len(params["TransactItems"]))
        return self._client.transact_write_items(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def standalone_tracks(repo: CatalogueRepository, handle: str, n: int) -> tuple[str, list[Track]]:
    writer = CatalogueWriter(repo.table, repo.client)
    artist = make_artist(repo, handle)
    ids = writer.reserve_track_ids(n)
    tracks = [new_track(i, artist.did, None, f"at://{artist.did}/{TRACK}/b{i}", "bafyold", VALUE) for i in ids]
    writer.add_new_tracks(tracks)
    return artist.did, tracks


def item(repo: CatalogueRepository, track: Track) -> dict[str, Any]:
    key = keys.standalone_track(track.artist_did, track.id)
    return from_item(repo.client.get_item(TableName=repo.table, Key=to_item(key), ConsistentRead=True)["Item"])


def play(repo: CatalogueRepository, track: Track) -> None:
    repo.client.update_item(
        TableName=repo.table,
        Key=to_item(keys.standalone_track(track.artist_did, track.id)),
        UpdateExpression="ADD play_count :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


def test_track_cids_are_written_in_transactions_of_100_without_touching_the_counters(
    repo: CatalogueRepository,
) -> None:
    _, tracks = standalone_tracks(repo, "batched1.test", 130)
    client = Conflicting(repo.client, 0)
    writer = CatalogueWriter(repo.table, client)
    play(repo, tracks[0])
    writer.set_track_cids(tracks, {t.record_uri or "": f"bafynew{t.id}" for t in tracks})
    assert client.transactions == [100, 30]
    assert all(item(repo, t)["record_cid"] == f"bafynew{t.id}" for t in tracks)
    # Written from a copy that predates the play: the play is kept (SET of the CID alone).
    assert item(repo, tracks[0])["play_count"] == 1


def test_a_conflicting_transaction_is_tried_again_and_the_play_meanwhile_is_kept(repo: CatalogueRepository) -> None:
    _, tracks = standalone_tracks(repo, "batched2.test", 5)
    client = Conflicting(repo.client, 2, meanwhile=lambda: play(repo, tracks[1]))
    CatalogueWriter(repo.table, client).set_track_cids(tracks, {t.record_uri or "": "bafynew" for t in tracks})
    assert client.transactions == [5, 5, 5]
    assert [item(repo, t)["record_cid"] for t in tracks] == ["bafynew"] * 5
    assert item(repo, tracks[1])["play_count"] == 2


def test_conflicts_that_persist_are_409_and_write_no_cid_of_the_batch(repo: CatalogueRepository) -> None:
    _, tracks = standalone_tracks(repo, "batched3.test", 4)
    client = Conflicting(repo.client, 100)
    with pytest.raises(ConcurrentUpdate):
        CatalogueWriter(repo.table, client).set_track_cids(tracks, {t.record_uri or "": "bafynew" for t in tracks})
    assert [item(repo, t)["record_cid"] for t in tracks] == ["bafyold"] * 4


def test_a_track_gone_meanwhile_is_left_out_and_the_others_are_written(repo: CatalogueRepository) -> None:
    _, tracks = standalone_tracks(repo, "batched4.test", 3)
    key = to_item(keys.standalone_track(tracks[1].artist_did, tracks[1].id))
    repo.client.delete_item(TableName=repo.table, Key=key)
    CatalogueWriter(repo.table, repo.client).set_track_cids(tracks, {t.record_uri or "": "bafynew" for t in tracks})
    assert [item(repo, t)["record_cid"] for t in (tracks[0], tracks[2])] == ["bafynew"] * 2
    assert "Item" not in repo.client.get_item(TableName=repo.table, Key=key)  # not recreated


def test_a_newer_cid_an_echo_stored_between_the_read_and_the_write_is_kept(repo: CatalogueRepository) -> None:
    _, tracks = standalone_tracks(repo, "batched6.test", 3)
    writer = CatalogueWriter(repo.table, repo.client)
    # Read at bafyold; the firehose stores the next version of tracks[1] before the write.
    assert writer.update_track_record(tracks[1], replace(tracks[1], record_cid="bafyecho"))
    writer.set_track_cids(tracks, {t.record_uri or "": "bafynew" for t in tracks})
    assert [item(repo, t)["record_cid"] for t in tracks] == ["bafynew", "bafyecho", "bafynew"]


def test_a_track_read_without_a_cid_is_written_only_while_it_has_none(repo: CatalogueRepository) -> None:
    _, tracks = standalone_tracks(repo, "batched7.test", 2)
    writer = CatalogueWriter(repo.table, repo.client)
    blank = [replace(t, record_cid=None) for t in tracks]
    assert writer.update_track_record(tracks[0], blank[0])  # tracks[0] has no CID now
    writer.set_track_cids(blank, {t.record_uri or "": "bafynew" for t in tracks})
    assert item(repo, tracks[0])["record_cid"] == "bafynew"
    assert item(repo, tracks[1])["record_cid"] == "bafyold"  # it had one the copy did not know


def test_claims_are_taken_in_one_transaction_and_a_conflict_is_tried_again(repo: CatalogueRepository) -> None:
    did, tracks = standalone_tracks(repo, "batched5.test", 60)
    uris = [str(t.record_uri) for t in tracks]
    client = Conflicting(repo.client, 1)
    writer = CatalogueWriter(repo.table, client)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(writer.claims, "_claim_one", lambda *a: pytest.fail("claimed one by one"))
        assert writer.claim_tracks(did, "album-a", uris, "token", 60) == []
    assert client.transactions == [60, 60]
    # Another album is refused every one of them, and claims none.
    other = CatalogueWriter(repo.table, repo.client)
    assert sorted(other.claim_tracks(did, "album-b", [*uris[:3], "at://x/y/z"], "t2", 60)) == sorted(uris[:3])
    claim = repo.client.get_item(TableName=repo.table, Key=to_item(keys.track_claim(did, "at://x/y/z")))
    assert "Item" not in claim


def test_a_track_stored_with_an_empty_cid_takes_the_new_one(repo: CatalogueRepository) -> None:
    # A record indexed without a CID is stored with an empty one: the write of the CID the
    # mutation computed must not be refused for ever as "another CID is there".
    writer = CatalogueWriter(repo.table, repo.client)
    artist = make_artist(repo, "batched8.test")
    [track_id] = writer.reserve_track_ids(1)
    [blank] = writer.add_new_tracks([new_track(track_id, artist.did, None, f"at://{artist.did}/{TRACK}/e", "", VALUE)])
    assert item(repo, blank)["record_cid"] == ""
    writer.set_track_cids([blank], {blank.record_uri or "": "bafynew"})
    assert item(repo, blank)["record_cid"] == "bafynew"


def test_a_detach_cancelled_by_a_conflicting_transaction_is_made_again(repo: CatalogueRepository) -> None:
    # A play in a transaction of its own on the track cancels the detach with no refused
    # condition (TransactionConflict): tried again, never an error the client sees as a 500.
    did, [loose] = standalone_tracks(repo, "batched9.test", 1)
    writer = CatalogueWriter(repo.table, repo.client)
    album = Album(id="album-conflict", artist_did=did, slug="c", title="C", created_at="2026-01-01T00:00:00Z")
    writer.create_album(album, "batched9.test")
    assert writer.claim_tracks(did, album.id, [loose.record_uri or ""], "attach", 60) == []
    moved = replace(loose, album_id=album.id)
    writer.move_tracks_into(album, [(None, moved)])
    client = Conflicting(repo.client, 2)
    CatalogueWriter(repo.table, client).detach_track(album.id, moved, replace(moved, album_id=None))
    assert client.transactions == [3, 3, 3]
    assert item(repo, loose)["record_cid"] == "bafyold"  # standalone again
    loaded = writer.load_album(album.id)
    assert loaded is not None and loaded[1] == []
