"""Title and description rules of the list lexicon (pure)."""

from __future__ import annotations

import unicodedata

from albums_core.errors import Unprocessable

MAX_TITLE_GRAPHEMES = 64
MAX_TITLE_CHARS = 256
MAX_DESCRIPTION = 5000
_ZWJ = "\u200d"


def graphemes(text: str) -> int:
    """Extended grapheme clusters, closely enough for a length limit: combining marks,
    variation selectors, emoji modifiers and tags join the character before, as does one
    after a ZWJ; a pair of regional indicators (a flag) is one cluster."""
    count = 0
    joined = False
    open_flag = False
    for ch in text:
        code = ord(ch)
        if (
            unicodedata.category(ch) in ("Mn", "Me", "Mc")
            or 0xFE00 <= code <= 0xFE0F
            or 0x1F3FB <= code <= 0x1F3FF
            or 0xE0020 <= code <= 0xE007F
        ):
            continue
        if ch == _ZWJ:
            joined = True
            continue
        if joined:
            joined = False
            continue
        regional = 0x1F1E6 <= code <= 0x1F1FF
        if regional and open_flag:
            open_flag = False
            continue
        open_flag = regional
        count += 1
    return count


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text)


def _visible(text: str) -> bool:
    """Something a reader would see: a letter, digit, punctuation or symbol (not only
    zero-width, format or combining characters)."""
    return any(unicodedata.category(c)[0] in "LNPS" for c in text)


_REPLACEMENT = "\ufffd"  # what undecodable bytes (invalid UTF-8) became on the way in


def clean_title(raw: object, field: str = "title") -> str:
    if not isinstance(raw, str):
        raise Unprocessable(f"{field}: must be a string")
    title = " ".join(raw.split())  # strip, and fold inner runs of white space
    if not title or not _visible(title):
        raise Unprocessable(f"{field}: must not be empty")
    if _REPLACEMENT in title:
        raise Unprocessable(f"{field}: must be valid UTF-8 text")
    if _has_control(title):
        raise Unprocessable(f"{field}: must not contain control characters")
    if len(title) > MAX_TITLE_CHARS or graphemes(title) > MAX_TITLE_GRAPHEMES:
        raise Unprocessable(f"{field}: at most {MAX_TITLE_GRAPHEMES} characters ({MAX_TITLE_CHARS} code points)")
    return title


def clean_description(raw: object) -> str | None:
    """Stripped; empty clears it."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise Unprocessable("description: must be a string")
    text = raw.strip()
    if _REPLACEMENT in text:
        raise Unprocessable("description: must be valid UTF-8 text")
    if len(text) > MAX_DESCRIPTION:
        raise Unprocessable(f"description: at most {MAX_DESCRIPTION} characters")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text):
        raise Unprocessable("description: must not contain control characters")
    return text or None
