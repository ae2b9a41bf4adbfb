"""The OAuth client's key set and its rotation steps (tools/oauth_key.py)."""

from __future__ import annotations

from tools.oauth_key import key_set


def test_a_new_set_has_one_private_p256_key() -> None:
    (key,) = key_set()["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["kid"]
    assert {len(key[c]) for c in ("x", "y", "d")} == {43}  # 32 bytes, base64url without padding


def test_rotation_publishes_then_promotes_then_drops() -> None:
    first = key_set()
    old = first["keys"][0]["kid"]
    added = key_set(first, "add")
    assert added["keys"][0]["kid"] == old and len(added["keys"]) == 2  # published, not signing
    promoted = key_set(added, "promote")
    new = added["keys"][1]["kid"]
    assert [k["kid"] for k in promoted["keys"]] == [new, old]  # the new key signs, the old one still verifies
    assert [k["kid"] for k in key_set(promoted, "drop-old")["keys"]] == [new]
