"""get_album: the album page, from the cache or from the catalogue and the artist's PDS."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.domain.errors import AlbumNotFound
from albums_core.domain.handles import normalize_artist_ref, normalize_slug
from albums_core.domain.ordering import order_tracks
from albums_core.domain.sessions import Viewer
from albums_core.domain.views import album_page, personalise
from albums_core.observability import cache_hits, metrics

if TYPE_CHECKING:  # the ports are protocols: only the type checker needs them
    from albums_core.ports import PageCache, PageCatalogue, PdsReader

# A cached redirect: a JSON object no album page is (a page's first key is "metadata").
_MOVED = '{"$moved":'


@dataclass(frozen=True)
class Moved:
    """The album a former slug names is at `slug` now (under the same handle)."""

    handle: str
    slug: str


class AlbumPages:
    def __init__(self, repo: PageCatalogue, cache: PageCache, reader: PdsReader) -> None:
        self.repo = repo
        self.cache = cache
        self.reader = reader

    def render(self, raw_handle: str, raw_slug: str, viewer: Viewer | None) -> str | Moved:
        """The page, or where the album a former slug names is now."""
        handle, slug = normalize_artist_ref(raw_handle), normalize_slug(raw_slug)
        if handle is None or slug is None:
            raise AlbumNotFound()
        key = self.cache.album_key(handle, slug)
        body = self.cache.get(key)
        if body is None:
            metrics.add_metric(name="CacheMiss", unit=MetricUnit.Count, value=1)
            body = self._build(handle, slug, key)
        else:
            cache_hits.add()
        if body.startswith(_MOVED):
            return Moved(handle, str(json.loads(body)["$moved"]))
        if viewer is None:
            return body
        page = json.loads(body)
        liked = self.repo.liked_track_ids(viewer.did, [t["id"] for t in page["tracks"]])
        return json.dumps(personalise(page, viewer.did, liked), separators=(",", ":"))

    def _build(self, handle: str, slug: str, key: str) -> str:
        started = time.time_ns() // 1_000_000
        loaded = self.repo.find_album_by_slug(handle, slug)
        if isinstance(loaded, str):
            body = json.dumps({"$moved": loaded}, separators=(",", ":"))
            self.cache.put(key, body, started)
            return body
        if loaded is None:
            raise AlbumNotFound()
        artist, album, tracks = loaded
        record_order = self.reader.list_order(artist.pds_url, album.list_uri)
        ordered = order_tracks(tracks, record_order, album.track_order)
        body = json.dumps(album_page(album, artist, ordered), separators=(",", ":"))
        self.cache.put(key, body, started)
        return body
