"""ATProto handle and slug path segments: normalised, and refused before any database call
when they cannot name anything (DynamoDB would reject an oversized key with a 500)."""

from __future__ import annotations

import re

# https://atproto.com/specs/handle
_HANDLE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_HANDLE = 253
MAX_SLUG = 100


def normalize_handle(raw: str) -> str | None:
    """The lower-cased handle, or None when `raw` is not a syntactically valid handle."""
    handle = raw.strip().lower().removeprefix("@")
    if len(handle) > MAX_HANDLE or not handle.isascii() or not _HANDLE.match(handle):
        return None
    return handle


def normalize_slug(raw: str) -> str | None:
    slug = raw.strip().lower()
    if len(slug) > MAX_SLUG or not slug.isascii() or not _SLUG.match(slug):
        return None
    return slug
