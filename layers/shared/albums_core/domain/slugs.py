"""Slugs from titles: transliterated to ASCII, lower-case, words joined by '-', at most 100
characters cut at a word boundary, never empty."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from albums_core.domain.handles import MAX_SLUG

_NON_WORD = re.compile(r"[^a-z0-9]+")


def _transliterate(text: str) -> str:
    from anyascii import anyascii  # only the write path makes slugs

    return anyascii(unicodedata.normalize("NFKC", text))


def slugify(title: str, max_length: int = MAX_SLUG) -> str:
    words = [w for w in _NON_WORD.split(_transliterate(title).lower()) if w]
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    if not slug and words:
        slug = words[0][:max_length]  # a single word longer than the limit
    if not slug:
        # Nothing transliterates (e.g. only symbols): a stable, non-empty slug from the title.
        slug = "album-" + hashlib.sha256(title.encode("utf-8")).hexdigest()[:8]
    return slug
