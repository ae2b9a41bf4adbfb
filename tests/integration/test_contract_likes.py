"""The behavioural contract of the likes the firehose consumer applies
(`albums_core.ports.firehose.LikeStore`), run against the fake (tests/fakes/likes.py) and the
DynamoDB adapter on moto: outcomes, record states, the (liker, track) like counted once, the
tracks' like counters, orphan likes and their adoption."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.likes import LikeStore
from albums_core.domain.models import Track
from tests.fakes.firehose import FakeFirehoseCatalogue
from tests.fakes.likes import FakeLikeStore

ARTIST = "did:plc:likedartist00000000000001"
ANN, BEN = "did:plc:ann000000000000000000001", "did:plc:ben000000000000000000001"
FIELDS = ("state", "track_id", "track_uri", "subject_cid")


@dataclass
class Likes:
    catalogue: Any
    store: Any

    def track(self, rkey: str) -> Track:
        made = Track(
            id=self.catalogue.reserve_track_ids(1)[0],
            title=rkey,
            artist_did=ARTIST,
            file_id=f"f-{rkey}",
            file_type="mp3",
            created_at="2026-01-01T00:00:00Z",
            record_uri=f"at://{ARTIST}/fm.plyr.track/{rkey}",
            record_cid=f"bafy{rkey}",
        )
        if isinstance(self.catalogue, FakeFirehoseCatalogue):
            return self.catalogue.add_track(made)
        return self.catalogue.add_new_tracks([made])[0]

    def count(self, track: Track) -> int:
        stored = self.catalogue.find_track(track.id)
        assert stored is not None
        return int(stored.like_count)

    def record(self, liker: str, rkey: str) -> dict[str, Any] | None:
        found = self.store.like_record(liker, rkey)
        return None if found is None else {k: found[k] for k in FIELDS if k in found}

    def state(self, liker: str, rkey: str) -> str | None:
        found = self.store.like_record(liker, rkey)
        return None if found is None else str(found["state"])


@pytest.fixture(params=["fake", "dynamodb"])
def likes(request: pytest.FixtureRequest) -> Likes:
    if request.param == "fake":
        catalogue = FakeFirehoseCatalogue()
        return Likes(catalogue, FakeLikeStore(catalogue))
    request.getfixturevalue("aws_env")
    writer = CatalogueWriter()
    return Likes(writer, LikeStore(writer))


def test_a_like_counts_once(likes: Likes) -> None:
    song = likes.track("a")
    assert likes.store.add_like(ANN, "l1", song, "bafya") == "applied"
    assert likes.record(ANN, "l1") == {
        "state": "counted",
        "track_id": song.id,
        "track_uri": song.record_uri,
        "subject_cid": "bafya",
    }
    assert likes.store.add_like(ANN, "l1", song, "bafya") == "replayed"
    assert likes.store.add_like(ANN, "l2", song, "bafya") == "duplicate"
    assert likes.state(ANN, "l2") == "duplicate"
    assert likes.store.add_like(BEN, "l1", song, "bafya") == "applied"  # rkeys are per liker
    assert likes.count(song) == 2


def test_a_like_of_a_track_that_moved(likes: Likes) -> None:
    song = likes.track("a")
    elsewhere = replace(song, album_id="not-its-album")
    assert likes.store.add_like(ANN, "l1", elsewhere, "bafya") == "moved"
    assert likes.store.like_record(ANN, "l1") is None
    assert likes.count(song) == 0


def test_removing_the_counted_like_hands_over_to_a_duplicate(likes: Likes) -> None:
    song = likes.track("a")
    likes.store.add_like(ANN, "l1", song, "c")
    likes.store.add_like(ANN, "l2", song, "c")
    assert likes.store.remove_like(ANN, "l1", song) == "handed_over"
    assert (likes.state(ANN, "l1"), likes.state(ANN, "l2")) == ("deleted", "counted")
    assert likes.count(song) == 1
    assert likes.store.remove_like(ANN, "l2", song) == "applied"
    assert likes.count(song) == 0
    assert likes.store.remove_like(ANN, "l2", song) == "replayed"
    assert likes.store.add_like(ANN, "l3", song, "c") == "applied"  # liked again, by a new record
    assert likes.count(song) == 1


def test_removing_a_duplicate(likes: Likes) -> None:
    song = likes.track("a")
    likes.store.add_like(ANN, "l1", song, "c")
    likes.store.add_like(ANN, "l2", song, "c")
    assert likes.store.remove_like(ANN, "l2", song) == "applied"
    assert likes.state(ANN, "l2") == "deleted"
    assert likes.count(song) == 1
    # No duplicate named any more: the counted like's removal uncounts it.
    assert likes.store.remove_like(ANN, "l1", song) == "applied"
    assert likes.count(song) == 0


def test_a_delete_before_its_create_leaves_a_tombstone(likes: Likes) -> None:
    song = likes.track("a")
    assert likes.store.remove_like(ANN, "l1", None) == "tombstoned"
    assert likes.record(ANN, "l1") == {"state": "deleted"}
    assert likes.store.add_like(ANN, "l1", song, "c") == "replayed"
    assert likes.count(song) == 0
    assert likes.store.remove_like(ANN, "l1", None) == "replayed"


def test_remove_without_the_track(likes: Likes) -> None:
    song = likes.track("a")
    likes.store.add_like(ANN, "l1", song, "c")
    # The track is gone from the catalogue: the like goes, no counter to lower.
    assert likes.store.remove_like(ANN, "l1", None) == "applied"
    assert likes.state(ANN, "l1") == "deleted"
    assert likes.store.add_like(ANN, "l2", song, "c") == "applied"  # the (liker, track) like went too


def test_batches_are_all_or_nothing(likes: Likes) -> None:
    one, two = likes.track("a"), likes.track("b")
    assert likes.store.add_likes([(ANN, "l1", one, "c"), (BEN, "l1", one, "c"), (ANN, "l2", two, "c")]) is True
    assert (likes.count(one), likes.count(two)) == (2, 1)
    # One of them a replay: none is written.
    assert likes.store.add_likes([(BEN, "l2", two, "c"), (ANN, "l1", one, "c")]) is False
    assert likes.store.like_record(BEN, "l2") is None
    assert likes.count(two) == 1
    assert likes.store.remove_likes([(ANN, "l1", one.id, one), (BEN, "l1", one.id, one)]) is True
    assert likes.count(one) == 0
    assert (likes.state(ANN, "l1"), likes.state(BEN, "l1")) == ("deleted", "deleted")
    # A like with a duplicate is handed over one by one, never in a batch.
    likes.store.add_like(ANN, "l3", two, "c")
    assert likes.store.remove_likes([(ANN, "l2", two.id, two)]) is False
    assert likes.state(ANN, "l2") == "counted"


def test_reads(likes: Likes) -> None:
    song = likes.track("a")
    likes.store.add_like(ANN, "l1", song, "c")
    likes.store.add_like(ANN, "l2", song, "c")
    likes.store.remove_like(BEN, "l9", None)
    found = likes.store.like_records([(ANN, "l1"), (ANN, "l2"), (BEN, "l9"), (BEN, "l1")])
    assert {pair: r["state"] for pair, r in found.items()} == {
        (ANN, "l1"): "counted",
        (ANN, "l2"): "duplicate",
        (BEN, "l9"): "deleted",
    }
    assert {rkey: r["state"] for rkey, r in likes.store.like_records_of(ANN).items()} == {
        "l1": "counted",
        "l2": "duplicate",
    }
    assert likes.store.like_records_of("did:plc:nobody") == {}


def _pointers(likes: Likes) -> list[dict[str, Any]]:
    fields = ("liker", "rkey", "track_uri", "subject_cid")
    return sorted(({k: p[k] for k in fields} for p in likes.store.orphans(ARTIST)), key=lambda p: p["rkey"])


def test_orphans_are_adopted(likes: Likes) -> None:
    uri = f"at://{ARTIST}/fm.plyr.track/a"
    assert likes.store.orphan_like(ANN, "l1", uri, "c") is True
    assert likes.store.orphan_like(ANN, "l1", uri, "c") is False  # replayed
    assert likes.record(ANN, "l1") == {"state": "orphan", "track_uri": uri, "subject_cid": "c"}
    assert _pointers(likes) == [{"liker": ANN, "rkey": "l1", "track_uri": uri, "subject_cid": "c"}]
    assert likes.store.orphans("did:plc:nobody") == []
    song = likes.track("a")
    [pointer] = likes.store.orphans(ARTIST)
    assert likes.store.adopt_orphan(pointer, song) == "applied"
    assert likes.record(ANN, "l1") == {"state": "counted", "track_id": song.id, "track_uri": uri, "subject_cid": "c"}
    assert likes.count(song) == 1
    assert likes.store.orphans(ARTIST) == []


def test_an_orphan_of_a_track_already_liked_is_a_duplicate(likes: Likes) -> None:
    song = likes.track("a")
    likes.store.add_like(ANN, "l1", song, "c")
    likes.store.orphan_like(ANN, "l2", song.record_uri or "", "c")
    [pointer] = likes.store.orphans(ARTIST)
    assert likes.store.adopt_orphan(pointer, song) == "duplicate"
    assert likes.state(ANN, "l2") == "duplicate"
    assert likes.count(song) == 1
    assert likes.store.orphans(ARTIST) == []
    # The duplicate is named on the like: it takes over when the counted one goes.
    assert likes.store.remove_like(ANN, "l1", song) == "handed_over"
    assert likes.count(song) == 1


def test_an_orphan_deleted_before_its_track_came(likes: Likes) -> None:
    uri = f"at://{ARTIST}/fm.plyr.track/a"
    likes.store.orphan_like(ANN, "l1", uri, "c")
    [pointer] = likes.store.orphans(ARTIST)
    assert likes.store.remove_like(ANN, "l1", None) == "applied"
    assert likes.store.orphans(ARTIST) == []
    song = likes.track("a")
    assert likes.store.adopt_orphan(pointer, song) == "gone"  # a stale pointer read before
    assert likes.count(song) == 0
    assert likes.state(ANN, "l1") == "deleted"


def test_adopting_into_a_track_that_moved(likes: Likes) -> None:
    likes.store.orphan_like(ANN, "l1", f"at://{ARTIST}/fm.plyr.track/a", "c")
    [pointer] = likes.store.orphans(ARTIST)
    song = likes.track("a")
    assert likes.store.adopt_orphan(pointer, replace(song, album_id="elsewhere")) == "moved"
    assert likes.state(ANN, "l1") == "orphan"
    assert len(likes.store.orphans(ARTIST)) == 1
    assert likes.count(song) == 0
