"""ATProto handle and slug path segments: normalised, and refused before any database call
when they cannot name anything (DynamoDB would reject an oversized key with a 500)."""

from __future__ import annotations

import re

# https://atproto.com/specs/handle
_HANDLE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
# An artist without a verified handle is listed under its DID (did:web hosts are lower-cased
# like handles: DNS names are case-insensitive).
_DID = re.compile(r"^(did:plc:[a-z2-7]{24}|did:web:[a-z0-9.-]{1,253})$")
# https://atproto.com/specs/did: the generic syntax, any method (a DID is matched exactly).
_ANY_DID = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$")
MAX_DID = 2048
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_HANDLE = 253
MAX_SLUG = 100


def normalize_handle(raw: str) -> str | None:
    """The lower-cased handle, or None when `raw` is not a syntactically valid handle."""
    # ASCII before lower-casing: str.lower() maps some non-ASCII letters to ASCII ones
    # (U+212A KELVIN SIGN to "k"), which would make another account's handle of them.
    if not raw.isascii():
        return None
    handle = raw.strip().lower().removeprefix("@")
    if len(handle) > MAX_HANDLE or not _HANDLE.match(handle):
        return None
    return handle


def normalize_artist_ref(raw: str) -> str | None:
    """A path's artist reference: a handle (normalised as above) or a DID, else None."""
    ref = raw.strip()
    if ref.startswith("did:web:"):
        ref = ref.lower()
    if ref.startswith("did:"):
        return ref if _DID.match(ref) else None
    return normalize_handle(ref)


def exact_did(raw: str) -> str | None:
    """`raw` when it has a DID's syntax, unchanged (no case folding, no trimming), else None."""
    return raw if len(raw) <= MAX_DID and raw.isascii() and _ANY_DID.match(raw) else None


def normalize_slug(raw: str) -> str | None:
    slug = raw.strip().lower()
    if len(slug) > MAX_SLUG or not slug.isascii() or not _SLUG.match(slug):
        return None
    return slug
