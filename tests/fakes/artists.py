"""The artists we index, in memory: the artist items and the handles' profile copies, with
the adapter's backfill of times (only an item without them gets them). `calls` counts reads
and writes, as DynamoDB calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from albums_core.domain.models import Artist


class FakeArtists:
    def __init__(self, now: Callable[[], str] = lambda: "2026-06-01T00:00:00.000Z") -> None:
        self.by_did: dict[str, Artist] = {}
        self.by_handle: dict[str, Artist] = {}
        self.first_seen: dict[str, str] = {}  # the earliest created_at of an artist's albums and tracks
        self.now = now
        self.calls = 0

    def put(self, artist: Artist) -> None:
        """An artist item and its handle's profile copy (an upsert)."""
        self.by_did[artist.did] = artist
        self.by_handle[artist.handle] = artist

    def get_artist(self, did: str) -> Artist | None:
        self.calls += 1
        return self.by_did.get(did)

    def get_artist_by_handle(self, handle: str) -> Artist | None:
        self.calls += 1
        return self.by_handle.get(handle)

    def backfill_artist_times(self, artist: Artist) -> Artist:
        created = self.first_seen.get(artist.did) or self.now()
        for table, key in ((self.by_did, artist.did), (self.by_handle, artist.handle)):
            self.calls += 1
            held = table.get(key)
            if held is not None and held.did == artist.did and not held.created_at:
                table[key] = replace(held, created_at=created, updated_at=held.updated_at or created)
        self.calls += 1
        stored = self.by_did.get(artist.did)
        if stored is not None and stored.handle == artist.handle and stored.created_at:
            return stored
        return replace(artist, created_at=created, updated_at=artist.updated_at or created)
