"""list_albums and list_artist_albums."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from albums_core.domain.errors import ArtistNotFound
from albums_core.domain.handles import normalize_artist_ref
from albums_core.domain.views import album_list_item, artist_album_item

if TYPE_CHECKING:  # the ports are protocols: only the type checker needs them
    from albums_core.ports import CursorSigner, ListingCatalogue

_CURSOR_FIELDS = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})


class Listings:
    def __init__(self, repo: ListingCatalogue, cursors: CursorSigner) -> None:
        self.repo = repo
        self.cursors = cursors

    def list_albums(self, limit: int, cursor: str | None) -> dict[str, Any]:
        """One page of albums that have tracks, by lower-cased title then id: a Query on the
        listing index and one BatchGetItem for the page's artists, whatever the catalogue's size."""
        after = self.cursors.decode(cursor, _CURSOR_FIELDS) if cursor is not None else None
        albums, next_key = self.repo.listed_albums_page(limit, after)
        artists = self.repo.get_artists({a.artist_did for a in albums}) if albums else {}
        return {
            "albums": [album_list_item(a, artists.get(a.artist_did)) for a in albums],
            "next_cursor": self.cursors.encode(next_key) if next_key else None,
        }

    def list_artist_albums(self, raw_handle: str) -> dict[str, Any]:
        handle = normalize_artist_ref(raw_handle)
        artist = self.repo.get_artist_by_handle(handle) if handle else None
        if artist is None:
            raise ArtistNotFound()
        albums = self.repo.artist_albums(artist.did)
        return {"albums": [artist_album_item(a, artist) for a in albums]}
