"""A Subsonic play's counters against conflicting transactions (moto): a collision with another
transaction (a batch of track CIDs, another play) is tried again, never dropped; a track gone
meanwhile counts nothing; collisions that persist count nothing and leave the play to the
client's retry."""

from __future__ import annotations

from typing import Any

import pytest

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.codec import from_item, to_item
from albums_core.adapters.dynamodb.subsonic_store import SubsonicStore
from albums_core.domain.errors import ConcurrentUpdate
from albums_core.domain.models import Track
from albums_core.domain.records import TRACK, new_track
from tests.integration.factory import make_artist
from tests.integration.test_batched_track_writes import Conflicting

VALUE = {"$type": TRACK, "title": "Played", "artist": "A", "fileType": "mp3", "createdAt": "2026-11-01T00:00:00Z"}


def a_track(repo: CatalogueRepository, handle: str) -> Track:
    writer = CatalogueWriter(repo.table, repo.client)
    artist = make_artist(repo, handle)
    (track_id,) = writer.reserve_track_ids(1)
    track = new_track(track_id, artist.did, None, f"at://{artist.did}/{TRACK}/p1", "bafy", VALUE)
    writer.add_new_tracks([track])
    return track


def plays(repo: CatalogueRepository, track: Track) -> Any:
    key = to_item(keys.standalone_track(track.artist_did, track.id))
    item = repo.client.get_item(TableName=repo.table, Key=key, ConsistentRead=True).get("Item")
    return None if item is None else from_item(item).get("play_count", 0)


def test_a_play_cancelled_by_a_conflicting_transaction_is_counted_once(repo: CatalogueRepository) -> None:
    track = a_track(repo, "played1.test")
    client = Conflicting(repo.client, 2)
    assert SubsonicStore(client).count_play("did:plc:listener", track, 1_800_000_000) is True
    assert len(client.transactions) == 3
    assert plays(repo, track) == 1
    # The same play again is a repeat: counted once.
    assert SubsonicStore(repo.client).count_play("did:plc:listener", track, 1_800_000_000) is False
    assert plays(repo, track) == 1


def test_collisions_that_persist_count_nothing_and_the_retry_counts_the_play(repo: CatalogueRepository) -> None:
    track = a_track(repo, "played2.test")
    with pytest.raises(ConcurrentUpdate):
        SubsonicStore(Conflicting(repo.client, 100)).count_play("did:plc:listener", track, 1_800_000_000)
    assert plays(repo, track) == 0
    assert SubsonicStore(repo.client).count_play("did:plc:listener", track, 1_800_000_000) is True
    assert plays(repo, track) == 1


def test_a_track_gone_meanwhile_counts_nothing(repo: CatalogueRepository) -> None:
    track = a_track(repo, "played3.test")
    repo.client.delete_item(TableName=repo.table, Key=to_item(keys.standalone_track(track.artist_did, track.id)))
    assert SubsonicStore(repo.client).count_play("did:plc:listener", track, 1_800_000_000) is False
    assert plays(repo, track) is None
