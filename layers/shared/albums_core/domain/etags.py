"""Entity tags (RFC 9110 §8.8.3, §13.1.1-2): derived from a body, or from an album's version,
and the two conditional headers parsed and compared. Pure: no I/O."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text
_TAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


@dataclass(frozen=True)
class EntityTag:
    opaque: str  # with its quotes
    weak: bool = False

    def __str__(self) -> str:
        return ("W/" if self.weak else "") + self.opaque


def body_tag(body: str) -> str:
    """A strong tag of a body: its bytes' SHA-256 (128 bits of it), so a page served from the
    cache costs nothing more than the cache read to tag."""
    return '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'


def version_tag(version: int) -> str:
    """The tag of an album's version (its counter of mutations)."""
    return f'"{version}"'


@dataclass(frozen=True)
class Condition:
    """A parsed If-Match or If-None-Match: `*`, or a list of tags."""

    any: bool
    tags: tuple[EntityTag, ...] = ()


def parse_condition(value: str | None) -> Condition | None:
    """None when the header is absent or empty; ValueError when it is not `*` nor a
    comma-separated list of entity tags."""
    if value is None or not value.strip(", \t"):
        return None
    if value.strip() == "*":
        return Condition(any=True)
    tags: list[EntityTag] = []
    pos = 0
    text = value.strip()
    while pos < len(text):
        if text[pos] in ", \t":  # empty list elements are allowed (RFC 9110 §5.6.1)
            pos += 1
            continue
        match = _TAG.match(text, pos)
        if match is None:
            raise ValueError("not a list of entity tags")
        tags.append(EntityTag(match.group(2), weak=match.group(1) is not None))
        pos = match.end()
    return Condition(any=False, tags=tuple(tags))


def none_match(condition: Condition, current: str) -> bool:
    """If-None-Match is false (a GET answers 304) when `*` or any listed tag matches the
    current one by the weak comparison (§13.1.2: the W/ prefix is ignored)."""
    return condition.any or any(tag.opaque == current for tag in condition.tags)


def expected_versions(condition: Condition) -> frozenset[int] | None:
    """The album versions an If-Match accepts by the strong comparison (§13.1.1): None for
    `*` (any current album); a weak tag or one that is not a version never matches."""
    if condition.any:
        return None
    versions: set[int] = set()
    for tag in condition.tags:
        inner = tag.opaque[1:-1]
        # Compared character by character: "007" is not the tag of version 7.
        canonical = inner == "0" or not inner.startswith("0")
        if not tag.weak and inner.isascii() and inner.isdigit() and len(inner) <= 18 and canonical:
            versions.add(int(inner))
    return frozenset(versions)
