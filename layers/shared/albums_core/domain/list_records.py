"""Edits of `fm.plyr.list` and `fm.plyr.track` record values (pure).

Each function takes a record value as read from the PDS and returns the value to write back;
the argument is never changed. Fields the function does not own are kept as they are: a record
is never rebuilt from our columns (an `audioBlob` dropped from a track record lets the PDS
collect the audio)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from albums_core.domain.records import LIST

Value = dict[str, Any]


def new_list(name: str, created_at: str) -> Value:
    """An album's empty list record."""
    return {"$type": LIST, "name": name, "listType": "album", "items": [], "createdAt": created_at}


def items(record: Mapping[str, Any]) -> list[Any]:
    """The list's items (a copy), or none when the field is missing or not a list."""
    found = record.get("items")
    return list(found) if isinstance(found, list) else []


def item_uri(item: Any) -> str | None:
    """The URI an item refers to (`{"subject": {"uri", "cid"}}`), None for a malformed one."""
    subject = item.get("subject") if isinstance(item, dict) else None
    uri = subject.get("uri") if isinstance(subject, dict) else None
    return uri if isinstance(uri, str) else None


def listed_uris(record: Mapping[str, Any]) -> list[str]:
    return [u for i in items(record) if (u := item_uri(i))]


def _ref(uri: str, cid: str | None) -> Value:
    return {"subject": {"uri": uri, "cid": cid}}


def _copy(record: Mapping[str, Any]) -> Value:
    return copy.deepcopy(dict(record))


def with_field(record: Mapping[str, Any], name: str, value: Any) -> Value:
    """The record with one field set (a track's `album`)."""
    out = _copy(record)
    out[name] = value
    return out


def without_field(record: Mapping[str, Any], name: str) -> Value:
    """The record without one field (a track leaving its album)."""
    out = _copy(record)
    out.pop(name, None)
    return out


def appended(record: Mapping[str, Any], refs: Sequence[tuple[str, str | None]], now: str) -> Value:
    """The list with (uri, cid) refs appended in order, skipping URIs it lists already (a
    repeated attach adds nothing twice)."""
    out = _copy(record)
    current = items(out)
    listed = {item_uri(i) for i in current}
    for uri, cid in refs:
        if uri not in listed:
            current.append(_ref(uri, cid))
            listed.add(uri)
    out["items"] = current
    out["updatedAt"] = now
    return out


def reordered(record: Mapping[str, Any], order: Sequence[str], cids: Mapping[str, str | None], now: str) -> Value:
    """The list's items in `order`: each listed item kept as it is (its first occurrence, so a
    duplicate goes), an item for a URI the list lacks made from `cids`, and the items of URIs
    outside `order` (not ours to drop) kept after them in their order."""
    out = _copy(record)
    current = items(out)
    first: dict[str, Any] = {}
    for item in current:
        uri = item_uri(item)
        if uri and uri not in first:
            first[uri] = item
    ours = set(order)
    out["items"] = [first.get(u) or _ref(u, cids.get(u)) for u in order] + [
        i for i in current if item_uri(i) not in ours
    ]
    out["updatedAt"] = now
    return out


def without_item(record: Mapping[str, Any], uri: str | None, now: str) -> Value:
    """The list without every item that refers to `uri`."""
    out = _copy(record)
    out["items"] = [i for i in items(out) if item_uri(i) != uri]
    out["updatedAt"] = now
    return out


def renamed(record: Mapping[str, Any], name: str, now: str) -> Value:
    """The list under a new name; unchanged (no `updatedAt` bump, so no write) when it has it."""
    out = _copy(record)
    if out.get("name") != name:
        out["name"] = name
        out["updatedAt"] = now
    return out
