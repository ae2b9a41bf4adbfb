"""The behavioural contract of `albums_core.ports.Pds` (the record calls the services make), run
against the in-memory fake (tests/fakes/pds.py) and a logged-in session on the real local PDS
(pds/start.mjs): reads, listings, createRecord, applyWrites with its swapCommit guard, CIDs."""

from __future__ import annotations

from typing import Any

import pytest

from albums_core.adapters.atproto.record_cids import record_cid
from albums_core.adapters.atproto.xrpc import PdsUnavailable, XrpcError
from albums_core.domain.records import LIST, TRACK, new_tid
from albums_core.ports import Pds
from tests.fakes.pds import FakePds

APPLY = "com.atproto.repo.applyWrites#"


@pytest.fixture(params=["fake", "local_pds"])
def pds(request: pytest.FixtureRequest) -> Pds:
    if request.param == "fake":
        return FakePds("did:plc:fakeartist000000000000001")
    artist = request.getfixturevalue("alice")  # logged in, its fm.plyr collections emptied
    return artist.pds


def value(title: str) -> dict[str, Any]:
    return {
        "$type": TRACK,
        "title": title,
        "artist": "Someone",
        "fileType": "mp3",
        "createdAt": "2026-01-01T00:00:00.000Z",
    }


def rkey_of(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def test_create_and_get(pds: Pds) -> None:
    uri, cid = pds.create_record(TRACK, value("one"))
    assert uri.startswith(f"at://{pds.did}/{TRACK}/")
    assert cid == record_cid(value("one"))  # the CID the write side computes itself
    found = pds.get_record(TRACK, rkey_of(uri))
    assert found is not None
    assert (found.uri, found.cid, found.value) == (uri, cid, value("one"))
    assert pds.get_record(TRACK, new_tid()) is None
    assert pds.get_record(LIST, rkey_of(uri)) is None  # another collection


def test_create_with_an_rkey(pds: Pds) -> None:
    rkey = new_tid()
    uri, _ = pds.create_record(TRACK, value("one"), rkey=rkey)
    assert rkey_of(uri) == rkey
    # The local PDS fails a write over an existing record with a 500, not a 4xx.
    with pytest.raises(PdsUnavailable):
        pds.create_record(TRACK, value("two"), rkey=rkey)
    found = pds.get_record(TRACK, rkey)
    assert found is not None and found.value["title"] == "one"


def test_apply_writes(pds: Pds) -> None:
    kept_uri, _ = pds.create_record(TRACK, value("kept"))
    gone_uri, _ = pds.create_record(TRACK, value("gone"))
    head = pds.latest_commit()
    new_rkey = new_tid()
    out = pds.apply_writes(
        [
            {"$type": f"{APPLY}create", "collection": TRACK, "rkey": new_rkey, "value": value("new")},
            {"$type": f"{APPLY}update", "collection": TRACK, "rkey": rkey_of(kept_uri), "value": value("kept 2")},
            {"$type": f"{APPLY}delete", "collection": TRACK, "rkey": rkey_of(gone_uri)},
        ],
        swap_commit=head,
    )
    created, updated, deleted = out["results"]
    assert created["$type"] == f"{APPLY}createResult" and created["uri"] == f"at://{pds.did}/{TRACK}/{new_rkey}"
    assert created["cid"] == record_cid(value("new"))
    assert updated["$type"] == f"{APPLY}updateResult" and updated["cid"] == record_cid(value("kept 2"))
    assert deleted["$type"] == f"{APPLY}deleteResult"
    assert out["commit"]["cid"] != head
    assert pds.latest_commit() == out["commit"]["cid"]
    kept = pds.get_record(TRACK, rkey_of(kept_uri))
    assert kept is not None and (kept.cid, kept.value["title"]) == (record_cid(value("kept 2")), "kept 2")
    assert pds.get_record(TRACK, rkey_of(gone_uri)) is None
    assert pds.get_record(TRACK, new_rkey) is not None


def test_the_cid_changes_with_the_value_only(pds: Pds) -> None:
    uri, first = pds.create_record(TRACK, value("one"))
    out = pds.apply_writes(
        [{"$type": f"{APPLY}update", "collection": TRACK, "rkey": rkey_of(uri), "value": value("one")}], None
    )
    assert out["results"][0]["cid"] == first
    out = pds.apply_writes(
        [{"$type": f"{APPLY}update", "collection": TRACK, "rkey": rkey_of(uri), "value": value("two")}], None
    )
    assert out["results"][0]["cid"] != first


def test_a_stale_swap_commit_is_refused_whole(pds: Pds) -> None:
    uri, cid = pds.create_record(TRACK, value("one"))
    stale = pds.latest_commit()
    pds.create_record(TRACK, value("another client"))  # the head moves
    with pytest.raises(XrpcError) as refused:
        pds.apply_writes(
            [
                {"$type": f"{APPLY}update", "collection": TRACK, "rkey": rkey_of(uri), "value": value("mine")},
                {"$type": f"{APPLY}create", "collection": TRACK, "rkey": new_tid(), "value": value("mine too")},
            ],
            swap_commit=stale,
        )
    assert refused.value.error == "InvalidSwap"
    found = pds.get_record(TRACK, rkey_of(uri))
    assert found is not None and found.cid == cid
    assert len(pds.list_records(TRACK, max_pages=5).records) == 2


def test_apply_writes_refused_whole_on_an_existing_create(pds: Pds) -> None:
    uri, cid = pds.create_record(TRACK, value("one"))
    head = pds.latest_commit()
    with pytest.raises(PdsUnavailable):
        pds.apply_writes(
            [
                {"$type": f"{APPLY}create", "collection": TRACK, "rkey": new_tid(), "value": value("first")},
                {"$type": f"{APPLY}create", "collection": TRACK, "rkey": rkey_of(uri), "value": value("again")},
            ],
            swap_commit=None,
        )
    assert pds.latest_commit() == head
    assert len(pds.list_records(TRACK, max_pages=5).records) == 1


def test_delete_of_a_missing_record(pds: Pds) -> None:
    pds.create_record(TRACK, value("one"))
    head = pds.latest_commit()
    with pytest.raises(PdsUnavailable):
        pds.apply_writes([{"$type": f"{APPLY}delete", "collection": TRACK, "rkey": new_tid()}], swap_commit=None)
    assert pds.latest_commit() == head


def test_update_of_a_missing_record(pds: Pds) -> None:
    rkey = new_tid()
    head = pds.latest_commit()
    with pytest.raises(PdsUnavailable):
        pds.apply_writes(
            [{"$type": f"{APPLY}update", "collection": TRACK, "rkey": rkey, "value": value("x")}], swap_commit=None
        )
    assert pds.latest_commit() == head
    assert pds.get_record(TRACK, rkey) is None


def test_list_records(pds: Pds) -> None:
    empty = pds.list_records(TRACK, max_pages=2)
    assert (empty.records, empty.complete, empty.cursor) == ([], True, None)
    rkeys = sorted(new_tid() for _ in range(3))
    pds.apply_writes(
        [{"$type": f"{APPLY}create", "collection": TRACK, "rkey": k, "value": value(k)} for k in rkeys], None
    )
    pds.create_record(LIST, {"$type": LIST, "name": "l", "items": [], "createdAt": "2026-01-01T00:00:00.000Z"})
    listed = pds.list_records(TRACK, max_pages=2)
    assert listed.complete and listed.cursor is None
    assert sorted(rkey_of(r.uri) for r in listed.records) == rkeys
    assert all(r.cid == record_cid(value(rkey_of(r.uri))) for r in listed.records)


def test_list_records_in_pages(pds: Pds) -> None:
    rkeys = sorted(new_tid() for _ in range(150))
    pds.apply_writes(
        [{"$type": f"{APPLY}create", "collection": TRACK, "rkey": k, "value": value(k)} for k in rkeys], None
    )
    first = pds.list_records(TRACK, max_pages=1)
    assert len(first.records) == 100 and not first.complete and first.cursor is not None
    rest = pds.list_records(TRACK, max_pages=5, cursor=first.cursor)
    assert rest.complete and rest.cursor is None
    seen = [rkey_of(r.uri) for r in first.records + rest.records]
    assert sorted(seen) == rkeys  # every record once


def test_list_records_newest_first(pds: Pds) -> None:
    """A PDS lists a collection newest record key first, its cursor going further back: what a
    bulk read finds in its first pages depends on it."""
    rkeys = sorted(new_tid() for _ in range(120))
    pds.apply_writes(
        [{"$type": f"{APPLY}create", "collection": TRACK, "rkey": k, "value": value(k)} for k in rkeys], None
    )
    first = pds.list_records(TRACK, max_pages=1)
    assert [rkey_of(r.uri) for r in first.records] == rkeys[::-1][:100]
    rest = pds.list_records(TRACK, max_pages=1, cursor=first.cursor)
    assert [rkey_of(r.uri) for r in rest.records] == rkeys[::-1][100:]
