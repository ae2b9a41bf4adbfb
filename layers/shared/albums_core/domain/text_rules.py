"""Title and description rules of the list lexicon (pure)."""

from __future__ import annotations

import unicodedata

from albums_core.domain.errors import Unprocessable

MAX_TITLE_GRAPHEMES = 64
# The lexicon's maxLength: atproto string lengths count UTF-8 bytes.
MAX_TITLE_BYTES = 256
MAX_DESCRIPTION = 5000
_ZWJ = "\u200d"
_ZWNJ = "\u200c"
_BLACK_FLAG = "\U0001f3f4"
_CANCEL_TAG = "\U000e007f"


def _ranges(*spans: tuple[int, int]) -> frozenset[int]:
    return frozenset(c for low, high in spans for c in range(low, high + 1))


# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): drawn as nothing.
_DEFAULT_IGNORABLE = _ranges(
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Drawn as blank though not ignorable: the Braille pattern with no dots.
_BLANK = _ranges((0x2800, 0x2800))
# Variation selectors (standard, Mongolian, ideographic): one may follow a visible character.
_SELECTORS = _ranges((0xFE00, 0xFE0F), (0x180B, 0x180D), (0x180F, 0x180F), (0xE0100, 0xE01EF))
# Tag characters spell a subdivision flag after U+1F3F4 and end with CANCEL TAG.
_TAGS = _ranges((0xE0020, 0xE007E))
_MAX_TAG_RUN = 8


def _noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def _base(ch: str) -> bool:
    """A character something may attach to: not white space, not invisible."""
    code = ord(ch)
    return not ch.isspace() and code not in _DEFAULT_IGNORABLE and unicodedata.category(ch) != "Cf"


def hidden_at(text: str, start: int = 0) -> int | None:
    """The index of the first character a reader would not see, or that reorders or hides
    text: format characters (bidi controls, zero-width space, BOM, ...), default-ignorable
    and blank characters. Allowed where real text needs them: ZWJ and ZWNJ between two visible
    characters, one variation selector after a visible character, and the tag sequence of
    a subdivision flag."""
    i, n = start, len(text)
    while i < n:
        ch, code = text[i], ord(text[i])
        prev = text[i - 1] if i else ""
        if ch in (_ZWJ, _ZWNJ):
            if prev and _base(prev) and i + 1 < n and _base(text[i + 1]):
                i += 1
                continue
            return i
        if code in _SELECTORS:
            if prev and _base(prev):
                i += 1
                continue
            return i
        if code in _TAGS and prev == _BLACK_FLAG:
            end = i
            while end < n and ord(text[end]) in _TAGS and end - i < _MAX_TAG_RUN:
                end += 1
            if end < n and text[end] == _CANCEL_TAG:
                i = end + 1
                continue
            return i
        if code in _DEFAULT_IGNORABLE or code in _BLANK or unicodedata.category(ch) == "Cf":
            return i
        i += 1
    return None


def _codepoint(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def _cluster_starts(text: str) -> list[int]:
    """Where extended grapheme clusters start, closely enough for a length limit: combining
    marks, variation selectors, emoji modifiers and tags join the character before, as does
    one after a ZWJ; a pair of regional indicators (a flag) is one cluster."""
    starts: list[int] = []
    joined = False
    open_flag = False
    for i, ch in enumerate(text):
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
        starts.append(i)
    return starts


def graphemes(text: str) -> int:
    return len(_cluster_starts(text))


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text)


def _visible(text: str) -> bool:
    """Something a reader would see: a letter, digit, punctuation or symbol (not only
    zero-width, format or combining characters)."""
    return any(unicodedata.category(c)[0] in "LNPS" for c in text)


_REPLACEMENT = "\ufffd"  # what undecodable bytes (invalid UTF-8) became on the way in


def _invalid_text(text: str) -> bool:
    """Undecodable bytes on the way in, or lone surrogates (JSON's \\ud800) that no UTF-8
    encoder accepts later."""
    return _REPLACEMENT in text or any(unicodedata.category(c) == "Cs" for c in text)


def clean_title(raw: object, field: str = "title") -> str:
    if not isinstance(raw, str):
        raise Unprocessable(f"{field}: must be a string")
    title = " ".join(raw.split())  # strip, and fold inner runs of white space
    if _invalid_text(title):
        raise Unprocessable(f"{field}: must be valid UTF-8 text")
    if _has_control(title):
        raise Unprocessable(f"{field}: must not contain control characters")
    hidden = hidden_at(title)
    if hidden is not None:
        raise Unprocessable(
            f"{field}: must not contain invisible or formatting characters ({_codepoint(title[hidden])})"
        )
    nonchar = next((c for c in title if _noncharacter(ord(c))), None)
    if nonchar is not None:
        raise Unprocessable(f"{field}: must not contain noncharacters ({_codepoint(nonchar)})")
    if not title or not _visible(title):
        raise Unprocessable(f"{field}: must not be empty")
    if len(title.encode("utf-8")) > MAX_TITLE_BYTES or graphemes(title) > MAX_TITLE_GRAPHEMES:
        raise Unprocessable(f"{field}: at most {MAX_TITLE_GRAPHEMES} characters ({MAX_TITLE_BYTES} bytes of UTF-8)")
    return title


def salvage_title(raw: object) -> str | None:
    """A title for a list record someone else wrote that breaks the rules: what the rules
    refuse dropped, then cut to the limits at a grapheme boundary; None when nothing
    readable is left."""
    if not isinstance(raw, str):
        return None
    # Cut early: a record may hold a very long name, and the limits keep far less.
    text = raw[: MAX_TITLE_BYTES * 2]
    title = " ".join(
        "".join(
            c
            for c in text
            if c.isspace()
            or not (unicodedata.category(c) in ("Cs", "Cc") or c == _REPLACEMENT or _noncharacter(ord(c)))
        ).split()
    )
    while (hidden := hidden_at(title)) is not None:
        title = " ".join((title[:hidden] + title[hidden + 1 :]).split())
    # The longest run of whole clusters within both limits.
    ends = [*_cluster_starts(title)[1 : MAX_TITLE_GRAPHEMES + 1], len(title)][:MAX_TITLE_GRAPHEMES]
    fitting = [end for end in ends if len(title[:end].encode("utf-8")) <= MAX_TITLE_BYTES]
    title = title[: fitting[-1]].rstrip() if fitting else ""
    try:
        return clean_title(title)
    except Unprocessable:
        return None


# Bidi embeddings, overrides, isolates and marks: they reorder the text around them.
_BIDI = _ranges((0x061C, 0x061C), (0x200E, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069))


def _drop_hidden(text: str) -> str:
    # Each scan goes on from the last visible character before the one removed (what
    # follows it may attach to it differently now: a joiner, a selector, a flag's tags),
    # not from the start: a string of hidden characters costs about one pass.
    at = 0
    while (hidden := hidden_at(text, at)) is not None:
        text = text[:hidden] + text[hidden + 1 :]
        at = hidden
        while at > 0 and not _base(text[at - 1]):
            at -= 1
    return text


def record_text(raw: object, limit: int) -> str | None:
    """A title or name read from a record, which anyone may write: controls, format, bidi and
    other characters a reader would not see removed (the rules of `hidden_at`), white space
    folded, cut to `limit` characters; None when nothing visible is left."""
    if not isinstance(raw, str):
        return None
    text = raw[: limit * 2]  # a record may hold a very long string; far less is kept
    text = "".join(
        " " if c.isspace() else c
        for c in text
        if c.isspace() or not (unicodedata.category(c) in ("Cs", "Cc") or c == _REPLACEMENT or _noncharacter(ord(c)))
    )
    text = " ".join(_drop_hidden(" ".join(text.split())).split())[:limit]
    text = _drop_hidden(text).strip()  # the cut may leave a joiner at the end
    return text if _visible(text) else None


def record_description(raw: object, limit: int = MAX_DESCRIPTION) -> str | None:
    """A description read from a record: lines kept, controls and bidi characters removed."""
    if not isinstance(raw, str):
        return None
    text = "".join(
        c
        for c in raw[:limit]
        if c in "\n\t"
        or not (
            unicodedata.category(c) in ("Cs", "Cc") or ord(c) in _BIDI or c == _REPLACEMENT or _noncharacter(ord(c))
        )
    ).strip()
    return text or None


def clean_description(raw: object) -> str | None:
    """Stripped; empty clears it."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise Unprocessable("description: must be a string")
    text = raw.strip()
    if _invalid_text(text):
        raise Unprocessable("description: must be valid UTF-8 text")
    if len(text) > MAX_DESCRIPTION:
        raise Unprocessable(f"description: at most {MAX_DESCRIPTION} characters")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text):
        raise Unprocessable("description: must not contain control characters")
    return text or None
