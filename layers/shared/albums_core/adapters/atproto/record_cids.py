"""A record's CID, computed here as the PDS computes it: the record's JSON form turned into the
ATProto data model, encoded as DAG-CBOR, hashed with sha2-256, named as a CIDv1 (dag-cbor).

The JSON form of the data model: `{"$link": "<cid>"}` is a link (a blob's `ref` is one),
`{"$bytes": "<base64>"}` is bytes; everything else maps as is. The data model has no floats (a
PDS refuses them), but a JSON number such as `1.0` is an integer to a PDS: it is encoded as one.
With the SDK's codec (libipld, a dependency of the atproto SDK; 1 ms to import, where the SDK's
own `atproto_core.cid` costs 40-140 ms)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import libipld

# CIDv1, multicodec dag-cbor (0x71), multihash sha2-256 (0x12) of 32 bytes (0x20).
_PREFIX = b"\x01\x71\x12\x20"


class NotDataModel(ValueError):
    """The value has no DAG-CBOR form (a fractional float, an integer beyond 64 bits, a bad
    link): a PDS would refuse it, or store something we cannot predict."""


def _link(text: str) -> bytes:
    try:
        _, raw = libipld.decode_multibase(text)
        libipld.decode_cid(raw)  # a CID, not any multibase text
    except ValueError as exc:
        raise NotDataModel(f"not a CID link: {text[:80]!r}") from exc
    return raw


def _bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NotDataModel("not base64 bytes") from exc


def to_data_model(value: Any) -> Any:
    """The data-model value of a record's JSON form, as libipld encodes it (links as CID bytes).

    libipld encodes any bytes value that parses as a CID as a link: a `$bytes` value that
    happens to be a valid binary CID would be encoded as a link, and its CID would differ from
    the PDS's. The caller checks every computed CID against the one the PDS returns."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("$link"), str):
            return _link(value["$link"])
        if len(value) == 1 and isinstance(value.get("$bytes"), str):
            return _bytes(value["$bytes"])
        return {key: to_data_model(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_data_model(item) for item in value]
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise NotDataModel("a float is not in the ATProto data model")
    return value


def record_cid(value: dict[str, Any]) -> str:
    """The CID a PDS gives `value` (a record in its JSON form) when it stores it."""
    try:
        encoded = libipld.encode_dag_cbor(to_data_model(value))
    except (ValueError, OverflowError, TypeError, RecursionError) as exc:
        if isinstance(exc, NotDataModel):
            raise
        raise NotDataModel(str(exc)) from exc
    return libipld.encode_cid(_PREFIX + hashlib.sha256(encoded).digest())
