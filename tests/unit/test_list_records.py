"""The record edits of domain/list_records: each keeps what it does not own and never changes
its argument."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from albums_core.domain import list_records as lr

NOW = "2026-12-01T00:00:00.000Z"
A, B, C, D = (f"at://did:plc:a/fm.plyr.track/{k}" for k in "abcd")


def ref(uri: str, cid: str = "c0") -> dict[str, Any]:
    return {"subject": {"uri": uri, "cid": cid}}


def a_list(*items: Any, **extra: Any) -> dict[str, Any]:
    return {"$type": "fm.plyr.list", "name": "N", "listType": "album", "items": list(items), **extra}


def unchanged(edit: Any, record: dict[str, Any]) -> dict[str, Any]:
    before = copy.deepcopy(record)
    out = edit(record)
    assert record == before, "the argument was changed"
    return dict(out)


def test_new_list_is_an_empty_album_list() -> None:
    assert lr.new_list("Title", NOW) == {
        "$type": "fm.plyr.list",
        "name": "Title",
        "listType": "album",
        "items": [],
        "createdAt": NOW,
    }


def test_items_and_uris_tolerate_malformed_records() -> None:
    assert lr.items({}) == [] and lr.items({"items": "x"}) == []
    odd = [ref(A), {"subject": "x"}, "y", {"subject": {"uri": 3}}, ref(B)]
    assert lr.listed_uris({"items": odd}) == [A, B]
    assert lr.item_uri(None) is None


def test_track_fields_are_set_and_dropped_keeping_the_rest() -> None:
    track = {"title": "t", "audioBlob": {"ref": {"$link": "b"}}, "unknown": [1, {"x": None}]}
    set_ = unchanged(lambda r: lr.with_field(r, "album", "New"), track)
    assert set_ == {**track, "album": "New"}
    dropped = unchanged(lambda r: lr.without_field(r, "album"), set_)
    assert dropped == track
    assert lr.without_field(track, "album") == track


def test_appended_adds_new_refs_in_order_once() -> None:
    record = a_list(ref(A, "ca"), custom={"kept": True})
    out = unchanged(lambda r: lr.appended(r, [(B, "cb"), (A, "other"), (C, None), (B, "again")], NOW), record)
    assert out["items"] == [ref(A, "ca"), ref(B, "cb"), ref(C, None)]
    assert out["custom"] == {"kept": True} and out["updatedAt"] == NOW


def test_reordered_keeps_listed_items_adds_missing_ones_and_keeps_foreign_ones_last() -> None:
    foreign = ref("at://did:plc:other/fm.plyr.track/z", "cz")
    record = a_list(ref(A, "ca"), foreign, ref(B, "cb"), ref(A, "dup"), {"junk": 1})
    out = unchanged(lambda r: lr.reordered(r, [B, C, A], {C: "cc"}, NOW), record)
    assert out["items"] == [ref(B, "cb"), ref(C, "cc"), ref(A, "ca"), foreign, {"junk": 1}]
    assert out["updatedAt"] == NOW


def test_without_item_drops_every_ref_to_the_uri() -> None:
    record = a_list(ref(A), ref(B), ref(A, "dup"))
    out = unchanged(lambda r: lr.without_item(r, A, NOW), record)
    assert out["items"] == [ref(B)] and out["updatedAt"] == NOW


def test_renamed_changes_nothing_when_the_name_is_already_right() -> None:
    record = a_list(ref(A), updatedAt="earlier")
    assert unchanged(lambda r: lr.renamed(r, "N", NOW), record) == record
    out = lr.renamed(record, "Other", NOW)
    assert (out["name"], out["updatedAt"], out["items"]) == ("Other", NOW, [ref(A)])


uris = st.sampled_from([A, B, C, D])


@settings(max_examples=25)
@given(st.lists(uris), st.permutations([A, B, C, D]))
def test_reordered_lists_the_order_first_and_drops_only_duplicates(listed: list[str], order: list[str]) -> None:
    record = a_list(*(ref(u, f"c{i}") for i, u in enumerate(listed)))
    out = lr.reordered(record, order, dict.fromkeys(order, "new"), NOW)
    assert lr.listed_uris(out) == order
    for item in out["items"]:
        uri = lr.item_uri(item)
        if uri in listed:
            assert item == ref(uri, f"c{listed.index(uri)}")  # the first occurrence, as it was


@settings(max_examples=25)
@given(st.lists(uris), st.lists(uris))
def test_appended_never_lists_a_uri_twice_that_was_once(listed: list[str], new: list[str]) -> None:
    record = a_list(*(ref(u) for u in dict.fromkeys(listed)))
    out = lr.appended(record, [(u, "n") for u in new], NOW)
    got = lr.listed_uris(out)
    assert len(got) == len(set(got)) and set(got) == set(listed) | set(new)
    assert got[: len(set(listed))] == list(dict.fromkeys(listed))
