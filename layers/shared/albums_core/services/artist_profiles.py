"""get_artist: an artist's profile by handle or by DID, from the page cache or the catalogue.

Anonymous and cached like album pages; the catalogue drops both cached forms whenever the
artist item changes (a login, an identity or account event)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.domain.errors import ArtistNotFound
from albums_core.domain.handles import exact_did, normalize_handle
from albums_core.domain.models import Artist
from albums_core.domain.views import artist_profile
from albums_core.observability import cache_hits, metrics

if TYPE_CHECKING:  # the ports are protocols: only the type checker needs them
    from albums_core.ports import ArtistDirectory, PageCache


class ArtistProfiles:
    def __init__(self, repo: ArtistDirectory, cache: PageCache) -> None:
        self.repo = repo
        self.cache = cache

    def by_handle(self, raw: str) -> str:
        """Matched case-insensitively; a DID, or anything that is not a handle, is 404."""
        handle = normalize_handle(raw)
        if handle is None:
            raise ArtistNotFound()
        return self._cached(self.cache.artist_handle_key(handle), lambda: self.repo.get_artist_by_handle(handle))

    def by_did(self, raw: str) -> str:
        """Matched exactly; anything that is not a DID is 404."""
        did = exact_did(raw)
        if did is None:
            raise ArtistNotFound()
        return self._cached(self.cache.artist_did_key(did), lambda: self._shown(did))

    def _shown(self, did: str) -> Artist | None:
        """The artist as its handle's profile shows it: an artist whose handle pointer is gone
        (an inactive account) is not found by DID either, as by handle."""
        artist = self.repo.get_artist(did)
        if artist is None:
            return None
        shown = self.repo.get_artist_by_handle(artist.handle)
        return shown if shown is not None and shown.did == did else None

    def _cached(self, key: str, load: Callable[[], Artist | None]) -> str:
        body = self.cache.get(key)
        if body is not None:
            cache_hits.add()
            return body
        metrics.add_metric(name="CacheMiss", unit=MetricUnit.Count, value=1)
        started = time.time_ns() // 1_000_000
        artist = load()
        if artist is None:
            raise ArtistNotFound()
        if not artist.created_at:
            artist = self.repo.backfill_artist_times(artist)
        body = json.dumps(artist_profile(artist), separators=(",", ":"))
        self.cache.put(key, body, started)
        return body
