"""Catalogue stream records decoded by the adapter: Lambda's JSON (binary attributes as base64
text, numbers as strings) to plain dicts, and the kind of item a record is about."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.codec import to_item
from albums_core.adapters.dynamodb.stream_images import item_change


def as_lambda_delivers(item: dict[str, Any]) -> dict[str, Any]:
    """An item's attribute values as the stream event's JSON carries them (bytes as base64)."""

    def encode(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [encode(v) for v in value]
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(bytes(value)).decode()
        if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3's Binary
            return base64.b64encode(value.value).decode()
        return value

    return encode(to_item(item))


def record(event: str, key: dict[str, str], new: dict[str, Any] | None, old: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"Keys": as_lambda_delivers(key)}
    if new is not None:
        body["NewImage"] = as_lambda_delivers({**key, **new})
    if old is not None:
        body["OldImage"] = as_lambda_delivers({**key, **old})
    return {"eventID": "e1", "eventName": event, "dynamodb": body}


def test_a_job_insert_is_decoded_with_its_binary_attributes() -> None:
    sealed = bytes(range(256))
    change = item_change(
        record("INSERT", keys.job("j1"), {"job_id": "j1", "status": "pending", "sealed_data": sealed}, None)
    )
    assert change.kind == "job"
    assert change.event == "INSERT"
    assert change.new is not None and change.old is None
    assert change.new["status"] == "pending"
    assert bytes(change.new["sealed_data"]) == sealed
    assert change.keys == keys.job("j1")


def test_an_album_removal_carries_the_old_image_with_numbers_as_numbers() -> None:
    old = {"id": "a1", "slug": "blue", "track_count": 3, "image_id": "f" * 32}
    change = item_change(record("REMOVE", keys.album("a1"), None, old))
    assert change.kind == "album"
    assert change.new is None
    assert change.old is not None
    assert change.old["track_count"] == 3
    assert change.old["image_id"] == "f" * 32


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        (keys.album_track("a1", 7), "track"),
        (keys.standalone_track("did:plc:x", 7), "track"),
        (keys.artist("did:plc:x"), "other"),
        (keys.slug_claim("did:plc:x", "blue"), "other"),
        (keys.track_claim("did:plc:x", "at://did:plc:x/fm.plyr.track/1"), "other"),
        (keys.album_gone("a1"), "other"),  # a deleted album's tombstone: not the album
    ],
)
def test_the_kind_of_item_comes_from_its_key(key: dict[str, str], kind: str) -> None:
    assert item_change(record("MODIFY", key, {"x": 1}, {"x": 0})).kind == kind


def test_a_record_without_images_is_an_empty_change() -> None:
    change = item_change({"eventName": "MODIFY", "dynamodb": {}})
    assert (change.kind, change.keys, change.new, change.old) == ("other", {}, None, None)
