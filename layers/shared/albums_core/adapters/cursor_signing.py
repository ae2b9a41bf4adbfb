"""Opaque, tamper-evident page cursors: base64url(JSON) + "." + base64url(HMAC-SHA256).

The signing key is a SecureString in SSM Parameter Store, read when a cursor is made or
checked and kept for adapters.parameters' max age: a rotated key reaches warm containers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from albums_core.adapters import parameters
from albums_core.config import settings
from albums_core.domain.errors import InvalidCursor

_MAX_CURSOR_CHARS = 2048
_TAG_BYTES = 16


def signing_key() -> bytes:
    value = parameters.secret(settings().cursor_key_parameter)
    if len(value) < 16:
        raise RuntimeError("cursor signing key is too short")
    return value.encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """The one spelling _b64 makes, or binascii.Error: padding, characters outside the
    alphabet (the decoder would skip them) and non-zero spare bits would each give one
    cursor many spellings."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise binascii.Error("not canonical base64url")
    return data


def _tag(key: bytes, body: str) -> bytes:
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:_TAG_BYTES]


def encode_cursor(position: dict[str, str], key: bytes | None = None) -> str:
    body = _b64(json.dumps(position, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return f"{body}.{_b64(_tag(key or signing_key(), body))}"


def decode_cursor(cursor: str, expected_keys: frozenset[str], key: bytes | None = None) -> dict[str, str]:
    """The position a cursor names; InvalidCursor for anything we did not sign ourselves."""
    if not cursor or len(cursor) > _MAX_CURSOR_CHARS or cursor.count(".") != 1:
        raise InvalidCursor()
    body, tag = cursor.split(".")
    try:
        given = _unb64(tag)
        if not hmac.compare_digest(given, _tag(key or signing_key(), body)):
            raise InvalidCursor()
        position: Any = json.loads(_unb64(body))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise InvalidCursor() from exc
    if (
        not isinstance(position, dict)
        or frozenset(position) != expected_keys
        or not all(isinstance(v, str) for v in position.values())
    ):
        raise InvalidCursor()
    return position


class SignedCursors:
    """The `CursorSigner` port: cursors signed with the parameter's key."""

    def encode(self, position: dict[str, str]) -> str:
        return encode_cursor(position)

    def decode(self, cursor: str, expected_keys: frozenset[str]) -> dict[str, str]:
        return decode_cursor(cursor, expected_keys)
