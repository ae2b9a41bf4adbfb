"""Our view of the artist's ATProto records (pure): record keys, and tracks built from
track records."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from albums_core.domain.at_uri import AtUri
from albums_core.domain.models import Album, Track
from albums_core.domain.public_urls import public_url
from albums_core.domain.text_rules import record_description, record_text

LIST = "fm.plyr.list"
TRACK = "fm.plyr.track"
_B32 = "234567abcdefghijklmnopqrstuvwxyz"
# The track lexicon's limits: `features` holds at most 10 entries, a gate's type 64 characters.
MAX_FEATURES = 10
MAX_GATE_TYPE = 64
_CID = re.compile(r"^[a-zA-Z0-9]{8,128}$")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def iso_utc(value: object) -> str | None:
    """A timestamp of any ISO 8601 form as `now_iso` writes it (UTC, milliseconds, `Z`); None
    when it is not one (a record's `createdAt` is whatever its author wrote)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_tid() -> str:
    """A record key in the TID format: microseconds since the epoch and a random clock id,
    13 characters of sortable base32."""
    value = (time.time_ns() // 1000) << 10 | int.from_bytes(os.urandom(2), "big") & 0x3FF
    return "".join(_B32[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


def album_id_for(list_uri: str) -> str:
    """An album's id follows from its list record, so two indexers racing over one record
    create one album (the second create fails its condition)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, list_uri))


def album_of_list(
    artist_did: str,
    list_uri: str,
    list_cid: str | None,
    value: Mapping[str, Any],
    title: str,
    slug: str,
    order: list[str],
) -> Album:
    """The album a list record makes, before any track moves in (the indexer and the firehose's
    commit path alike: their albums must be the same item)."""
    return Album(
        id=album_id_for(list_uri),
        artist_did=artist_did,
        slug=slug,
        title=title,
        list_uri=list_uri,
        list_cid=list_cid,
        created_at=record_text(value.get("createdAt"), 64) or now_iso(),
        updated_at=now_iso(),
        track_order=order,
    )


def rkey_of(uri: str) -> str:
    at = AtUri.parse(uri)
    assert at is not None, uri
    return at.rkey


def is_cid(value: Any) -> bool:
    """Plausibly a CID's string form (base32 or base58 letters and digits, bounded)."""
    return isinstance(value, str) and bool(_CID.match(value))


def support_gate(gate: Any) -> dict[str, Any] | None:
    """A `supportGate` in the lexicon's shape, `{"type": <at most 64 characters>}`; anything
    else (other keys, another type, a longer or blank type) is dropped."""
    kind = record_text(gate.get("type"), MAX_GATE_TYPE + 1) if isinstance(gate, dict) else None
    return {"type": kind} if kind and len(kind) <= MAX_GATE_TYPE else None


def _features(features: Any) -> list[dict[str, str]]:
    """The lexicon's featured artists, `{did, handle?, displayName?}` with string values only
    (the view checks the DID and handle); other entries and keys dropped."""
    out: list[dict[str, str]] = []
    for item in features[:MAX_FEATURES] if isinstance(features, list) else []:
        did = item.get("did") if isinstance(item, dict) else None
        if not isinstance(did, str) or not did or len(did) > 2048:
            continue
        entry = {"did": did}
        handle, name = item.get("handle"), record_text(item.get("displayName"), 256)
        if isinstance(handle, str) and len(handle) <= 253:
            entry["handle"] = handle
        if name:
            entry["displayName"] = name
        out.append(entry)
    return out


def _duration(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53 else None


def track_fields(record_uri: str, cid: str, value: dict[str, Any]) -> dict[str, Any]:
    """The Track fields a track record determines (ids, counters and album are ours). Each is
    what the model says, whatever the record holds: anyone can write a record."""
    blob = value.get("audioBlob")
    ref = blob.get("ref") if isinstance(blob, dict) else None
    blob_cid = ref.get("$link") if isinstance(ref, dict) else None
    blob_cid = blob_cid if is_cid(blob_cid) else None
    audio_url = public_url(value.get("audioUrl"))  # no javascript: or metadata hosts
    return {
        # Hidden, bidi and control characters removed; a title left blank is the record key.
        "title": record_text(value.get("title"), 256) or rkey_of(record_uri),
        "file_id": record_text(value.get("fileId"), 256) or rkey_of(record_uri),
        "file_type": record_text(value.get("fileType"), 16) or "unknown",
        "r2_url": audio_url,
        "duration": _duration(value.get("duration")),
        "features": _features(value.get("features")),
        "image_url": public_url(value.get("imageUrl")),
        "support_gate": support_gate(value.get("supportGate")),
        "description": record_description(value.get("description"), 5000),
        "created_at": record_text(value.get("createdAt"), 64) or now_iso(),
        "record_uri": record_uri,
        "record_cid": cid,
        "pds_blob_cid": blob_cid,
        "audio_storage": "pds" if blob_cid else ("r2" if audio_url else None),
    }


def is_track_record(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("title"), str) and bool(value.get("title"))


# The Track fields a track record determines (the keys of track_fields).
TRACK_RECORD_FIELDS = tuple(track_fields("at://did:plc:x/fm.plyr.track/x", "", {}).keys())


def new_track(track_id: int, did: str, album_id: str | None, record_uri: str, cid: str, value: dict[str, Any]) -> Track:
    return Track.from_data(
        {"id": track_id, "artist_did": did, "album_id": album_id, **track_fields(record_uri, cid, value)}
    )


def onto_existing(track: Track, existing: Track) -> Track:
    """`track` (built from a fresh read of its record) as the catalogue's `existing` item of the
    same record: its id, and the counters and cover the catalogue keeps, not the record."""
    return replace(
        track,
        id=existing.id,
        play_count=existing.play_count,
        like_count=existing.like_count,
        comment_count=existing.comment_count,
        image_id=existing.image_id,
        thumbnail_url=existing.thumbnail_url,
    )


def _subjects(value: dict[str, Any]) -> list[dict[str, Any]]:
    """The strong refs of a list record's items (`{"subject": {"uri", "cid"}}`), malformed ones skipped."""
    items = value.get("items")
    if not isinstance(items, list):
        return []
    subjects = (item.get("subject") if isinstance(item, dict) else None for item in items)
    return [s for s in subjects if isinstance(s, dict) and isinstance(s.get("uri"), str)]


def strong_ref_uris(value: dict[str, Any]) -> list[str]:
    return [str(s["uri"]) for s in _subjects(value)]


def pin_strong_refs(value: dict[str, Any], cids: Mapping[str, str]) -> bool:
    """Point every strong ref of `value` (a list record, changed in place) at the CID `cids`
    gives its record; refs to records not in `cids` are left as they are. True if one moved."""
    moved = False
    for subject in _subjects(value):
        cid = cids.get(subject["uri"])
        if cid and subject.get("cid") != cid:
            subject["cid"] = cid
            moved = True
    return moved
