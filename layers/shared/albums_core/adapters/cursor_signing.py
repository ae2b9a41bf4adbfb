"""Opaque, tamper-evident page cursors: base64url(JSON) + "." + base64url(HMAC-SHA256).

The signing key is a SecureString in SSM Parameter Store, read when a cursor is made or
checked and kept for adapters.parameters' max age: a rotated key reaches warm containers.
Containers do not see a rotation at once (up to that max age apart), and a reader pages on
across it: a cursor is accepted under the key a container signs with, under the key it replaced
while the rotation is fresh (`PREVIOUS_KEY_SECONDS`), and, when neither verifies it, under
the key read again past the cache (a newer key other containers sign with already; at most
once per `REFRESH_SECONDS`, so forged cursors cannot make an SSM call each). The parameter may
list more keys after the first (`NEW OLD`): a container started after the rotation then
accepts the cursors of containers still on the old key too.
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
# How long a container still accepts the key a rotation replaced, from when it saw the new one:
# longer than containers can lag each other, short enough to retire a leaked key.
PREVIOUS_KEY_SECONDS = 3 * parameters.MAX_AGE_SECONDS
REFRESH_SECONDS = 30


def _keys(value: str) -> list[bytes]:
    """The parameter's keys: the one cursors are signed with, then any others it lists
    (whitespace-separated: `NEW OLD` during a rotation), accepted too."""
    keys = value.split()
    if not keys or any(len(k) < 16 for k in keys):
        raise RuntimeError("cursor signing key is too short")
    return [k.encode("utf-8") for k in keys]


def signing_key() -> bytes:
    return _keys(parameters.secret(settings().cursor_key_parameter))[0]


def verifying_keys() -> list[bytes]:
    """The parameter's keys, and the key the value it replaced signed with while the rotation is
    fresh (only that one: dropping a retired key from `NEW OLD` must not accept it again)."""
    name = settings().cursor_key_parameter
    keys = _keys(parameters.secret(name))
    before = (parameters.previous(name, PREVIOUS_KEY_SECONDS) or "").split()
    if before and len(before[0]) >= 16 and before[0].encode("utf-8") not in keys:
        keys.append(before[0].encode("utf-8"))
    return keys


def _signed(body: str, given: bytes, key: bytes | None) -> bool:
    if key is not None:
        return hmac.compare_digest(given, _tag(key, body))
    if any(hmac.compare_digest(given, _tag(k, body)) for k in verifying_keys()):
        return True
    fresh = parameters.refresh(settings().cursor_key_parameter, REFRESH_SECONDS)
    return fresh is not None and any(hmac.compare_digest(given, _tag(k, body)) for k in _keys(fresh))


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
        if not _signed(body, _unb64(tag), key):
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
