"""list_albums and list_artist_albums."""

from __future__ import annotations

from typing import Any

from albums_core.adapters.cursor_signing import decode_cursor, encode_cursor
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from albums_core.domain.errors import ArtistNotFound
from albums_core.domain.handles import normalize_artist_ref
from albums_core.domain.views import album_list_item, artist_album_item

_CURSOR_FIELDS = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})


def list_albums(limit: int, cursor: str | None, repo: CatalogueRepository | None = None) -> dict[str, Any]:
    """One page of albums that have tracks, by lower-cased title then id: a Query on the
    listing index and one BatchGetItem for the page's artists, whatever the catalogue's size."""
    repo = repo or CatalogueRepository()
    after = decode_cursor(cursor, _CURSOR_FIELDS) if cursor is not None else None
    albums, next_key = repo.listed_albums_page(limit, after)
    artists = repo.get_artists({a.artist_did for a in albums}) if albums else {}
    return {
        "albums": [album_list_item(a, artists.get(a.artist_did)) for a in albums],
        "next_cursor": encode_cursor(next_key) if next_key else None,
    }


def list_artist_albums(raw_handle: str, repo: CatalogueRepository | None = None) -> dict[str, Any]:
    repo = repo or CatalogueRepository()
    handle = normalize_artist_ref(raw_handle)
    artist = repo.get_artist_by_handle(handle) if handle else None
    if artist is None:
        raise ArtistNotFound()
    albums = repo.artist_albums(artist.did)
    return {"albums": [artist_album_item(a, artist) for a in albums]}
