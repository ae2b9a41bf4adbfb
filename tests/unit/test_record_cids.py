"""Record CIDs computed here (issue 11, item 5), against CIDs the local PDS gave the same records
(@atproto/dev-env 0.6.7, createRecord; tests/integration/test_strong_refs.py checks every CID
the service computes against the PDS's live)."""

from __future__ import annotations

from typing import Any

import pytest

from albums_core.adapters.atproto.record_cids import NotDataModel, record_cid
from albums_core.domain.records import pin_strong_refs, strong_ref_uris

BLOB = {
    "$type": "blob",
    "ref": {"$link": "bafkreifhha5em6bvvixx26ja4osmrddcaqjvhreyotm7i3ydgkxqmwv6t4"},
    "mimeType": "audio/mpeg",
    "size": 103,
}
PLAIN = {
    "$type": "fm.plyr.track",
    "title": "T",
    "artist": "A",
    "fileType": "mp3",
    "createdAt": "2026-01-01T00:00:00.000Z",
}


@pytest.mark.parametrize(
    ("value", "cid"),
    [
        (PLAIN, "bafyreicxmi2t53hdstejykk7snr72iwa65rftimwrghzt5qvfodg6lunja"),
        # An integral JSON number is an integer to the PDS.
        (
            {**PLAIN, "createdAt": "x", "title": "F", "fl": 1.0},
            "bafyreiacrpegf3x27syygxb45l74tlerzxo6tqxxuahfzens3joym3xzlm",
        ),
        (
            {**PLAIN, "createdAt": "x", "title": "F", "blobx": {**BLOB, "extra": 1}},
            "bafyreidl7myd5cggzr6p2evug7cd2wju67pdonqckx3bomclk3blquihhm",
        ),
    ],
)
def test_cids_the_pds_gave(value: dict[str, Any], cid: str) -> None:
    assert record_cid(value) == cid


def test_links_and_bytes_are_encoded_as_the_data_model_not_as_their_json_form() -> None:
    with_blob = {**PLAIN, "audioBlob": BLOB}
    as_text = {**PLAIN, "audioBlob": {**BLOB, "ref": {"link": BLOB["ref"]["$link"]}}}
    assert record_cid(with_blob) != record_cid(as_text)
    assert record_cid({"b": {"$bytes": "aGVsbG8"}}) != record_cid({"b": {"bytes": "aGVsbG8"}})
    # Key order does not matter (DAG-CBOR sorts map keys).
    assert record_cid(dict(reversed(list(with_blob.items())))) == record_cid(with_blob)


@pytest.mark.parametrize(
    "value",
    [{"f": 1.5}, {"l": {"$link": "not-a-cid"}}, {"b": {"$bytes": "!!"}}, {"i": 2**70}, {"n": float("nan")}],
)
def test_values_outside_the_data_model_are_refused(value: dict[str, Any]) -> None:
    with pytest.raises(NotDataModel):
        record_cid(value)


def test_pinning_moves_only_the_refs_it_knows() -> None:
    value = {
        "items": [
            {"subject": {"uri": "at://a/x/1", "cid": "old1"}},
            {"subject": {"uri": "at://a/x/2", "cid": "old2"}},
            "junk",
            {"subject": {"uri": 3}},
        ]
    }
    assert strong_ref_uris(value) == ["at://a/x/1", "at://a/x/2"]
    assert pin_strong_refs(value, {"at://a/x/1": "new1", "at://a/x/9": "new9"}) is True
    assert [i["subject"]["cid"] for i in value["items"][:2]] == ["new1", "old2"]
    assert pin_strong_refs(value, {"at://a/x/1": "new1"}) is False
