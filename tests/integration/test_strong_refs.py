"""Strong refs that stay true (issue 11, item 5): after every change of an album's track records,
the album's list record names each track by the CID that track record has now, written in the
same applyWrites; the CIDs computed here are checked against the PDS's. Against the real local PDS."""

from __future__ import annotations

from typing import Any

import pytest

from albums_core.adapters.atproto import record_writes
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.domain.at_uri import AtUri
from albums_core.domain.records import LIST
from albums_core.observability import metrics
from tests.integration.write_fixtures import Artist


def list_record(artist: Artist, album_id: str) -> tuple[str, dict[str, Any]]:
    album = CatalogueWriter().get_album(album_id)
    assert album is not None and album.list_uri
    record = artist.record(album.list_uri)
    assert album.list_cid == record.cid, "the catalogue holds the list record's current CID"
    return album.list_uri, record.value


def assert_strong_refs_true(artist: Artist, album_id: str) -> list[str]:
    """Every item of the album's list record names its track record by the CID it has now;
    returns the items' URIs in order."""
    _, value = list_record(artist, album_id)
    uris = []
    for item in value["items"]:
        subject = item["subject"]
        assert subject["cid"] == artist.record(subject["uri"]).cid, subject["uri"]
        uris.append(subject["uri"])
    return uris


def album_with_tracks(artist: Artist, title: str, n: int) -> tuple[str, list[str]]:
    blob = artist.upload_blob(b"ID3" + bytes(64))
    uris = [artist.publish_track(f"{title} {i}", audioBlob=blob, duration=180 + i) for i in range(n)]
    _, meta = artist.admin().create(title)
    artist.admin().attach(str(meta["id"]), uris)
    return str(meta["id"]), uris


def test_attach_pins_each_track_by_the_cid_its_rewritten_record_has(alice: Artist) -> None:
    album_id, uris = album_with_tracks(alice, "Pinned On Attach", 3)
    assert assert_strong_refs_true(alice, album_id) == uris
    # Each record was rewritten (its `album` field), so the pins are new CIDs, not the published ones.
    assert all(alice.record(u).value["album"] == "Pinned On Attach" for u in uris)
    more = [alice.publish_track(f"Later {i}") for i in range(2)]
    alice.admin().attach(album_id, more)
    assert assert_strong_refs_true(alice, album_id) == uris + more


def test_a_rename_pins_every_track_by_its_new_cid(alice: Artist) -> None:
    album_id, uris = album_with_tracks(alice, "Before The Rename", 4)
    before = {u: alice.record(u).cid for u in uris}
    alice.admin().update(album_id, title="After The Rename")
    assert assert_strong_refs_true(alice, album_id) == uris  # the order kept
    after = {u: alice.record(u) for u in uris}
    assert all(r.value["album"] == "After The Rename" and r.cid != before[u] for u, r in after.items())
    _, value = list_record(alice, album_id)
    assert value["name"] == "After The Rename"
    # The catalogue's tracks carry the new CIDs too.
    loaded = CatalogueWriter().load_album(album_id)
    assert loaded is not None
    assert {t.record_uri: t.record_cid for t in loaded[1]} == {u: r.cid for u, r in after.items()}


def test_reorder_and_removal_keep_the_refs_true_even_after_an_edit_elsewhere(alice: Artist) -> None:
    album_id, uris = album_with_tracks(alice, "Edited Elsewhere", 3)
    # Another client edits a track record: the list now pins a superseded version of it.
    at = AtUri.parse(uris[1])
    assert at is not None
    edited = dict(alice.record(uris[1]).value, description="changed in another app")
    alice.pds.put_record(at.collection, at.rkey, edited, swap_record=None)
    loaded = CatalogueWriter().load_album(album_id)
    assert loaded is not None
    ids = {t.record_uri: t.id for t in loaded[1]}
    alice.admin().reorder(album_id, [ids[uris[2]], ids[uris[0]], ids[uris[1]]])
    assert assert_strong_refs_true(alice, album_id) == [uris[2], uris[0], uris[1]]
    alice.admin().remove_track(album_id, ids[uris[0]])
    assert assert_strong_refs_true(alice, album_id) == [uris[2], uris[1]]


def test_a_cid_the_pds_does_not_confirm_is_logged_and_the_list_corrected(
    alice: Artist, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    album_id, uris = album_with_tracks(alice, "Mispredicted", 2)
    real = record_writes.record_cid

    def wrong_for_tracks(value: dict[str, Any]) -> str:
        # A fault no real record provokes: our CID of every track record is off.
        cid = real(value)
        return cid if value.get("$type") == LIST else real({**value, "mispredicted": True})

    monkeypatch.setattr(record_writes, "record_cid", wrong_for_tracks)
    caplog.clear()
    metrics.clear_metrics()
    alice.admin().update(album_id, title="Mispredicted Again")
    assert any("differs from the one computed here" in r.getMessage() for r in caplog.records)
    assert "RecordCidMismatch" in metrics.metric_set
    metrics.clear_metrics()
    assert assert_strong_refs_true(alice, album_id) == uris
