"""Track order of an album page (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from albums_core.domain.models import Track


def order_tracks(
    tracks: Sequence[Track], record_order: Sequence[str] | None, known_order: Sequence[str]
) -> list[Track]:
    """The list record's order when we have it (each URI once; URIs of tracks not in the
    album ignored), else the last order the service knew; tracks in neither follow by
    created_at, then id."""
    order = record_order if record_order is not None else known_order
    by_uri = {t.record_uri: t for t in tracks if t.record_uri}
    placed: list[Track] = []
    seen: set[int] = set()
    for uri in order:
        track = by_uri.get(uri)
        if track is not None and track.id not in seen:
            seen.add(track.id)
            placed.append(track)
    rest = sorted((t for t in tracks if t.id not in seen), key=lambda t: (t.created_at, t.id))
    return placed + rest
