"""Catalogue stream records as the service reads them: the keys and the old and new images of
the item, as plain dicts (decoded here, the one place that knows DynamoDB's JSON)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.codec import from_item


@dataclass(frozen=True)
class ItemChange:
    event: str | None  # INSERT, MODIFY or REMOVE
    kind: keys.ItemKind
    keys: dict[str, Any]
    new: dict[str, Any] | None
    old: dict[str, Any] | None


def _decoded(value: Any) -> Any:
    """A stream image as Lambda delivers it (JSON: binary attributes as base64 text)."""
    if isinstance(value, dict):
        return {
            k: (
                base64.b64decode(v)
                if k == "B" and isinstance(v, str)
                else [base64.b64decode(b) for b in v]
                if k == "BS"
                else _decoded(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _image(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    return from_item(_decoded(body[name])) if body.get(name) else None


def item_change(record: dict[str, Any]) -> ItemChange:
    """One record of the catalogue's stream (Lambda's event shape)."""
    body = record.get("dynamodb") or {}
    item_keys = _image(body, "Keys") or {}
    return ItemChange(
        event=record.get("eventName"),
        kind=keys.kind_of(item_keys),
        keys=item_keys,
        new=_image(body, "NewImage"),
        old=_image(body, "OldImage"),
    )
