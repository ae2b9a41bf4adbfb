"""The album-page cache in memory, with the adapter's tombstones: a page read before an
invalidation cannot be put back after it."""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from albums_core.adapters.dynamodb import keys
from tests.fakes.journal import Journal

_PLAIN_LIMIT = 100_000  # the adapter's: larger pages are compressed


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class _Entry:
    body: str | None
    expires_at: float
    invalidated_ms: int | None = None


class FakePageCache:
    def __init__(
        self,
        journal: Journal | None = None,
        ttl_seconds: int = 300,
        clock: Callable[[], float] = time.time,
        clock_ms: Callable[[], int] = _now_ms,
        max_body: int = 380_000,
    ) -> None:
        self.journal = journal or Journal()
        self.ttl = ttl_seconds
        self.clock = clock
        self.clock_ms = clock_ms
        self.max_body = max_body
        self.entries: dict[str, _Entry] = {}
        self.invalidated: list[str] = []

    # The adapter's keys: a test names an invalidated page as the production cache does.
    def album_key(self, handle: str, slug: str) -> str:
        return keys.album_page(handle, slug)

    def artist_handle_key(self, handle: str) -> str:
        return keys.artist_page_by_handle(handle)

    def artist_did_key(self, did: str) -> str:
        return keys.artist_page_by_did(did)

    def get(self, key: str) -> str | None:
        entry = self.entries.get(key)
        if entry is None or entry.expires_at <= self.clock():
            return None
        return entry.body

    def put(self, key: str, body: str, read_started_ms: int) -> bool:
        # As the adapter: a page over 100 kB is stored compressed; refused only when even that
        # is over the item size.
        raw = body.encode("utf-8")
        if len(raw) > _PLAIN_LIMIT and len(zlib.compress(raw, 6)) > self.max_body:
            return False
        entry = self.entries.get(key)
        if entry is not None and entry.invalidated_ms is not None and entry.invalidated_ms >= read_started_ms:
            return False
        self.entries[key] = _Entry(body, self.clock() + self.ttl)
        return True

    def invalidate(self, key: str) -> None:
        self.journal.add("cache", f"invalidate {key}")
        self.invalidated.append(key)
        self.entries[key] = _Entry(None, self.clock() + self.ttl, self.clock_ms())
