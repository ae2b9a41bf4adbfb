"""The read of a read-modify-write, chosen per request: listRecords pages of 100 when the
artist's track records (the catalogue's count) take fewer calls than one getRecord per record,
and the records stay exactly as they were (unknown fields kept, the swap against the commit
read first)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from albums_core.adapters.atproto.record_writes import Edit, keep, read_records, read_snapshot, write_records
from albums_core.domain.records import TRACK
from tests.fakes import FakePds
from tests.unit.test_album_admin import ALICE, World, album_with_tracks


@pytest.fixture
def world() -> World:
    return World()


def publish(pds: FakePds, n: int, prefix: str = "t") -> list[str]:
    return [pds.publish_track(f"{prefix} {i}", extraField={"kept": i}) for i in range(n)]


def calls(pds: FakePds) -> Counter[str]:
    return Counter(pds.calls)


def test_many_records_of_a_small_collection_are_read_from_its_listing() -> None:
    pds = FakePds(ALICE)
    uris = publish(pds, 110)
    wanted = uris[5:105]
    got = read_records(pds, wanted, {TRACK: 110})
    assert calls(pds) == {"list_records": 2}
    for uri in wanted:
        record = got[uri]
        assert record is not None and record.uri == uri
        # As good as a getRecord: the whole value, unknown fields too, and its CID.
        assert record.value == pds.value(uri) and record.cid == pds.cid(uri)


def test_a_few_records_of_a_large_collection_are_read_one_by_one() -> None:
    pds = FakePds(ALICE)
    uris = publish(pds, 500)
    got = read_records(pds, uris[:3], {TRACK: 500})
    assert calls(pds) == {"get_record": 3}
    assert all(got[u] is not None for u in uris[:3])


def test_the_listing_stops_once_it_has_every_record_asked_for() -> None:
    pds = FakePds(ALICE)
    uris = publish(pds, 300)
    newest = uris[-50:]  # a PDS lists newest first: these are the first page
    got = read_records(pds, newest, {TRACK: 300})
    assert calls(pds) == {"list_records": 1}
    assert all(got[u] is not None for u in newest)


def test_a_count_too_low_costs_at_most_a_getrecord_for_what_the_listing_missed() -> None:
    pds = FakePds(ALICE)
    uris = publish(pds, 450)
    wanted = uris[:5]  # the oldest, past the capped listing (the count says 150 records: 3 pages at most)
    got = read_records(pds, wanted, {TRACK: 150})
    assert calls(pds) == {"list_records": 3, "get_record": 5}
    assert all(got[u] is not None and got[u].value == pds.value(u) for u in wanted)  # type: ignore[union-attr]


def test_a_record_missing_from_a_complete_listing_is_missing() -> None:
    pds = FakePds(ALICE)
    uris = publish(pds, 20)
    gone = f"at://{ALICE}/{TRACK}/3zzzzzzzzzzzz"
    got = read_records(pds, [*uris[:9], gone], {TRACK: 20})
    assert got[gone] is None
    assert calls(pds) == {"list_records": 2}


def test_a_listed_snapshot_swaps_against_the_commit_read_first() -> None:
    pds = FakePds(ALICE)
    uris = publish(pds, 30)
    before = {u: pds.value(u) for u in uris}
    snapshot = read_snapshot(pds, uris, {TRACK: 30})
    assert pds.calls[0] == "latest_commit"
    pds.publish_track("another client writes meanwhile")
    pds.calls.clear()

    def retitle(value: dict[str, Any]) -> dict[str, Any]:
        return {**value, "album": "Swapped"}

    write_records(pds, [Edit(u, retitle) for u in uris], snapshot, sizes={TRACK: 31})
    # The first applyWrites swapped against the stale commit and failed; the batch was read again.
    assert calls(pds)["apply_writes"] == 2 and calls(pds)["list_records"] == 1
    for i, uri in enumerate(uris):
        assert pds.value(uri) == {**(before[uri] or {}), "album": "Swapped"}
        assert (pds.value(uri) or {})["extraField"] == {"kept": i}


def test_rename_of_an_album_reads_its_records_by_listing_and_keeps_every_field(world: World) -> None:
    meta, uris = album_with_tracks(world, "Bulk", 30)
    pds = world.pds[ALICE]
    before = {u: pds.value(u) for u in uris}
    pds.calls.clear()
    world.admin().update(meta["id"], title="Bulk Renamed")
    # The commit, one page of the 30 track records, the list record, one applyWrites.
    assert calls(pds) == {"latest_commit": 1, "list_records": 1, "get_record": 1, "apply_writes": 1}
    for uri in uris:
        assert pds.value(uri) == {**(before[uri] or {}), "album": "Bulk Renamed"}
    # The list pins each track record by the CID its rewritten record has.
    items = world.list_items(meta)
    assert {i["subject"]["uri"]: i["subject"]["cid"] for i in items} == {u: pds.cid(u) for u in uris}
    assert {t.record_uri: t.record_cid for t in world.album_tracks(meta["id"])} == {u: pds.cid(u) for u in uris}


def test_rename_of_a_small_album_of_a_prolific_artist_reads_each_record(world: World) -> None:
    meta, uris = album_with_tracks(world, "Small", 3)
    pds = world.pds[ALICE]
    admin = world.admin()
    for i, uri in enumerate(publish(pds, 400, "other")):
        # The catalogue knows the artist's other tracks (indexed, standalone).
        world.catalogue.tracks[10_000 + i] = _standalone(10_000 + i, uri)
    pds.calls.clear()
    admin.update(meta["id"], title="Small Renamed")
    assert calls(pds) == {"latest_commit": 1, "get_record": 3 + 1, "apply_writes": 1}
    assert all((pds.value(u) or {}).get("album") == "Small Renamed" for u in uris)


def test_attach_reads_the_new_records_from_the_listing(world: World) -> None:
    admin = world.admin()
    _, meta = admin.create("Attach Bulk")
    pds = world.pds[ALICE]
    uris = publish(pds, 40)
    pds.calls.clear()
    admin.attach(meta["id"], uris)
    assert calls(pds) == {"latest_commit": 1, "list_records": 1, "get_record": 1, "apply_writes": 1}
    assert world.listed(meta) == uris


def _standalone(track_id: int, uri: str) -> Any:
    from albums_core.domain.records import new_track

    return new_track(track_id, ALICE, None, uri, "bafyx", {"$type": TRACK, "title": "x", "createdAt": "2026-01-01"})


def test_keep_reads_without_writing() -> None:
    pds = FakePds(ALICE)
    uris = publish(pds, 12)
    pds.calls.clear()
    after = write_records(pds, [Edit(u, keep) for u in uris], sizes={TRACK: 12})
    assert calls(pds) == {"latest_commit": 1, "list_records": 1}
    assert {u: r.cid for u, r in after.items() if r} == {u: pds.cid(u) for u in uris}


def test_a_rename_answers_from_the_tracks_it_read_with_their_new_cids(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    meta, uris = album_with_tracks(world, "Answered", 12)
    loads: list[str] = []
    load = world.catalogue.load_album

    def counted(album_id: str) -> Any:
        loads.append(album_id)
        return load(album_id)

    monkeypatch.setattr(world.catalogue, "load_album", counted)
    out = world.admin().update(meta["id"], title="Answered Renamed")
    assert loads == [meta["id"]]  # the read before the write; the answer reads nothing more
    monkeypatch.undo()
    assert out == world.admin().metadata(world.catalogue.albums[meta["id"]])
    pds = world.pds[ALICE]
    assert {t.record_uri: t.record_cid for t in world.album_tracks(meta["id"])} == {u: pds.cid(u) for u in uris}
