import base64
import hashlib
import hmac
import json

import pytest

from albums_core.cursor import decode_cursor, encode_cursor
from albums_core.errors import InvalidCursor

KEY = b"k" * 32
FIELDS = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})
POSITION = {"pk": "ALBUM#1", "sk": "ALBUM", "gsi1pk": "LISTED", "gsi1sk": "abc\x011"}


def test_round_trip() -> None:
    assert decode_cursor(encode_cursor(POSITION, KEY), FIELDS, KEY) == POSITION


def test_cursor_is_opaque_url_safe_text() -> None:
    cursor = encode_cursor(POSITION, KEY)
    assert all(c.isalnum() or c in "-_." for c in cursor)


@pytest.mark.parametrize(
    "cursor",
    ["", "garbage", "a.b", "...", "a" * 5000, "%%%.%%%", "eyJ9.AAAA", "\x00.\x00"],
)
def test_garbage_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, FIELDS, KEY)


def test_truncated_cursor_is_invalid() -> None:
    cursor = encode_cursor(POSITION, KEY)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor[:-3], FIELDS, KEY)


def test_cursor_signed_with_another_key_is_invalid() -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(POSITION, b"x" * 32), FIELDS, KEY)


def test_payload_edited_and_resigned_by_hand_without_the_key_is_invalid() -> None:
    body = base64.urlsafe_b64encode(json.dumps({**POSITION, "gsi1sk": "zzz"}).encode()).rstrip(b"=").decode()
    forged_tag = hmac.new(b"guess", body.encode(), hashlib.sha256).digest()[:16]
    forged = f"{body}.{base64.urlsafe_b64encode(forged_tag).rstrip(b'=').decode()}"
    with pytest.raises(InvalidCursor):
        decode_cursor(forged, FIELDS, KEY)


def test_validly_signed_cursor_of_another_shape_is_invalid() -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor({"pk": "x"}, KEY), FIELDS, KEY)
