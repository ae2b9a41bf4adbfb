"""The album item's `version`: a counter every mutation of the album adds one to, in the same
UpdateItem that checks an If-Match against it (check and increment are one conditional write,
never a read then a write). An item written before versions existed has none: version 0."""

from __future__ import annotations

from typing import Any

from albums_core.domain.errors import PreconditionFailed
from albums_core.domain.models import Album

VERSION = "version"
NAMES = {"#ver": VERSION}
BUMP = "#ver :one"  # the clause of an ADD
ONE = {":one": {"N": "1"}}


def condition(expected: frozenset[int] | None) -> tuple[str, dict[str, Any]]:
    """The ConditionExpression part (to AND with the rest) and its values: empty when any
    version will do (no If-Match, or `*`)."""
    if expected is None:
        return "", {}
    if not expected:
        raise PreconditionFailed()  # no version tag in If-Match: nothing can match
    values = {f":ver{i}": {"N": str(v)} for i, v in enumerate(sorted(expected))}
    among = f"#ver IN ({', '.join(values)})"
    return (f"(attribute_not_exists(#ver) OR {among})" if 0 in expected else among), values


def check_refusal(album: Album | None, expected: frozenset[int] | None) -> None:
    """After a refused conditional write: 412 when the album (read again, only to choose the
    answer) is at a version the If-Match did not name; otherwise the caller's own answer."""
    if album is not None and expected is not None and album.version not in expected:
        raise PreconditionFailed()
