import base64
import hashlib
import hmac
import json

import pytest

from albums_core.adapters.cursor_signing import decode_cursor, encode_cursor
from albums_core.domain.errors import InvalidCursor

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


def _spellings(cursor: str) -> list[str]:
    """Other spellings of the same bytes that a lenient base64 decoder accepts."""
    body, tag = cursor.split(".")
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 16 tag bytes leave 4 spare bits in the last character: flipping one keeps the bytes.
    spare = last[last.index(tag[-1]) ^ 1]
    return [
        f"{body}.{tag}==",
        f"{body}.{tag}=",
        f"{body}=.{tag}",
        f"{body}==.{tag}",
        f"{body}.{tag[:4]}!{tag[4:]}",
        f"{body}.{tag[:4]}\n{tag[4:]}",
        f"{body}.{tag[:-1]}{spare}",
        f"{body}.{tag.replace('-', '+').replace('_', '/')}",
    ]


def test_only_the_canonical_spelling_is_accepted() -> None:
    cursor = encode_cursor(POSITION, KEY)
    assert decode_cursor(cursor, FIELDS, KEY) == POSITION
    variants = [v for v in _spellings(cursor) if v != cursor]
    for variant in variants:
        with pytest.raises(InvalidCursor):
            decode_cursor(variant, FIELDS, KEY)
