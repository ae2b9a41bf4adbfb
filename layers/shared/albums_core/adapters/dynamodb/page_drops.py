"""The `AlbumPages` port of albums_core.ports.firehose: album pages dropped from the page cache,
by (handle, slug) or by album id (looked up in the catalogue). Never raises."""

from __future__ import annotations

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from albums_core.adapters.dynamodb.page_cache import (
    AlbumPageCache,
    album_cache_key,
    invalidate_album_cache,
    invalidate_album_cache_by_id,
)
from albums_core.observability import logger


class AlbumPageDrops:
    def __init__(self, catalogue: CatalogueRepository, cache: AlbumPageCache | None = None) -> None:
        self.catalogue = catalogue
        self.cache = cache

    def drop(self, handle: str, slug: str) -> None:
        invalidate_album_cache(handle, slug, self.cache)

    def drop_by_id(self, album_id: str) -> None:
        invalidate_album_cache_by_id(album_id, self.cache, repo=self.catalogue)

    def drop_many(self, pages: set[tuple[str, str]], handles: dict[str, str]) -> None:
        # One BatchGetItem for the albums known by id (their slugs as they are now; the handles
        # are the caller's, so no artist is read), then every page's tombstone in one
        # BatchWriteItem.
        found = set(pages)
        if handles:
            try:
                albums = [keys.album(album_id) for album_id in sorted(handles)]
                items = self.catalogue.batch_get(albums, consistent=True)
            except Exception:  # noqa: BLE001 - never raises, as the other drops
                logger.warning("album pages not dropped", extra={"albums": sorted(handles)}, exc_info=True)
                items = []
            for item in items:
                handle = handles.get(str(item.get("id", "")))
                if handle and item.get("slug"):
                    found.add((handle, str(item["slug"])))
        if found:
            (self.cache or AlbumPageCache()).invalidate_many([album_cache_key(h, s) for h, s in found])
