"""The `AlbumPages` port of albums_core.ports.firehose: album pages dropped from the page cache,
by (handle, slug) or by album id (looked up in the catalogue). Never raises."""

from __future__ import annotations

from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from albums_core.adapters.dynamodb.page_cache import (
    AlbumPageCache,
    invalidate_album_cache,
    invalidate_album_cache_by_id,
)


class AlbumPageDrops:
    def __init__(self, catalogue: CatalogueRepository, cache: AlbumPageCache | None = None) -> None:
        self.catalogue = catalogue
        self.cache = cache

    def drop(self, handle: str, slug: str) -> None:
        invalidate_album_cache(handle, slug, self.cache)

    def drop_by_id(self, album_id: str) -> None:
        invalidate_album_cache_by_id(album_id, self.cache, repo=self.catalogue)
