"""DynamoDB adapter of the catalogue: two thin facades over its aggregates. Access patterns and
call counts: ACCESS_PATTERNS.md.

Each aggregate is a module of its own, built on one `Table` (table.py): artists and handles
(catalogue_artists), albums (catalogue_albums), slugs and renames (catalogue_slugs), tracks and
record guards (catalogue_tracks), track claims (catalogue_claims), tracks moving in and out of
albums (catalogue_membership). `CatalogueRepository` exposes the reads (and the writes fixtures
use), `CatalogueWriter` every operation; both only delegate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from albums_core.adapters.dynamodb.catalogue_albums import Albums
from albums_core.adapters.dynamodb.catalogue_artists import Artists
from albums_core.adapters.dynamodb.catalogue_claims import Claims
from albums_core.adapters.dynamodb.catalogue_lists import AlbumLists
from albums_core.adapters.dynamodb.catalogue_membership import Membership, Move
from albums_core.adapters.dynamodb.catalogue_slugs import Slugs
from albums_core.adapters.dynamodb.catalogue_track_cids import TrackCids
from albums_core.adapters.dynamodb.catalogue_tracks import Tracks, track_item, track_key
from albums_core.adapters.dynamodb.table import MAX_TRANSACTION, Action, Table
from albums_core.config import settings
from albums_core.domain.models import Album, Artist, Track

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

# Read when a facade is built: tests lower it to cross transaction boundaries with few items.
_MAX_TRANSACTION = MAX_TRANSACTION


class CatalogueRepository:
    def __init__(self, table: str | None = None, client: DynamoDBClient | None = None) -> None:
        self.table = table or settings().catalogue_table
        self._client = client
        # Every transaction passes through `_transact` (a seam tests use to interleave writers).
        self.db = Table(self.table, client, route=self._transact, max_transaction=_MAX_TRANSACTION)
        self.albums = Albums(self.db)
        self.slugs = Slugs(self.db, self.albums)
        self.tracks = Tracks(self.db, self.albums)
        self.track_cids = TrackCids(self.db)
        self.claims = Claims(self.db)
        self.membership = Membership(self.db, self.tracks, self.albums, self.claims)
        self.album_lists = AlbumLists(self.db, self.albums, self.tracks)
        self.artists = Artists(self.db, self.albums, self.slugs, self.tracks)

    @property
    def client(self) -> DynamoDBClient:
        return self.db.client

    def _transact(self, actions: list[Action]) -> None:
        self.db.send_transaction(actions)

    # ---- the table's building blocks (other stores of the table use `db` itself) -------------

    def batch_get(self, key_list: list[dict[str, str]], consistent: bool = False) -> list[dict[str, Any]]:
        return self.db.batch_get(key_list, consistent)

    def query_pages(self, **params: Any) -> Iterator[list[dict[str, Any]]]:
        return self.db.query_pages(**params)

    def _query_all(self, **params: Any) -> list[dict[str, Any]]:
        return self.db.query_all(**params)

    def update_if(
        self,
        key: dict[str, str],
        update: str,
        condition: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
        returning: bool = False,
    ) -> dict[str, Any] | None:
        return self.db.update_if(key, update, condition, values, names, returning)

    # ---- artists -----------------------------------------------------------------------------

    def get_artist_by_handle(self, handle: str) -> Artist | None:
        return self.artists.get_artist_by_handle(handle)

    def get_artist(self, did: str) -> Artist | None:
        return self.artists.get_artist(did)

    def get_artists(self, dids: set[str]) -> dict[str, Artist]:
        return self.artists.get_artists(dids)

    def put_artist(self, artist: Artist) -> None:
        self.artists.put_artist(artist)

    # ---- albums and slugs --------------------------------------------------------------------

    def _album_item(self, album: Album, handle: str | None = None) -> dict[str, Any]:
        return self.albums.album_item(album)

    def load_album(self, album_id: str) -> tuple[Album, list[Track]] | None:
        return self.albums.load_album(album_id)

    def load_album_by_slug(self, handle: str, slug: str) -> tuple[Artist, Album, list[Track]] | None:
        found = self.find_album_by_slug(handle, slug)
        return found if isinstance(found, tuple) else None

    def find_album_by_slug(self, handle: str, slug: str) -> tuple[Artist, Album, list[Track]] | str | None:
        return self.slugs.find_album_by_slug(handle, slug)

    def current_slug(self, did: str, former: str) -> str | None:
        return self.slugs.current_slug(did, former)

    def former_slugs(self, did: str, album_id: str) -> list[str]:
        return self.slugs.former_slugs(did, album_id)

    def get_album(self, album_id: str) -> Album | None:
        return self.albums.get_album(album_id)

    def listed_albums_page(self, limit: int, after: dict[str, str] | None) -> tuple[list[Album], dict[str, str] | None]:
        return self.albums.listed_albums_page(limit, after)

    def artist_albums(self, did: str) -> list[Album]:
        return self.albums.artist_albums(did)

    def create_album(self, album: Album, handle: str) -> None:
        self.albums.create_album(album, handle)

    # ---- tracks ------------------------------------------------------------------------------

    def liked_track_ids(self, user_did: str, track_ids: list[int]) -> set[int]:
        return self.tracks.liked_track_ids(user_did, track_ids)

    def next_track_id(self) -> int:
        return self.reserve_track_ids(1)[0]

    def reserve_track_ids(self, count: int) -> range:
        return self.tracks.reserve_track_ids(count)


class CatalogueWriter(CatalogueRepository):
    """The write side's operations: each a conditional write or a transaction, so counters,
    slugs and membership change atomically with what they describe."""

    # ---- the table's building blocks ---------------------------------------------------------

    def _put(self, item: dict[str, Any]) -> Action:
        return self.db.put(item)

    # Loosely typed (Any) for the stores that still build their actions as plain dicts.
    def delete_action(
        self, key: dict[str, str], condition: str | None = None, values: dict[str, Any] | None = None
    ) -> Any:
        return self.db.delete_action(key, condition, values)

    def transact_in_batches(self, actions: list[Any], size: int = MAX_TRANSACTION) -> None:
        self.db.transact_in_batches(actions, size)

    def batch_write(self, requests: list[WriteRequestTypeDef]) -> None:
        self.db.batch_write(requests)

    # ---- artists -----------------------------------------------------------------------------

    def first_indexed(self, did: str) -> str | None:
        return self.artists.first_indexed(did)

    def backfill_artist_times(self, artist: Artist) -> Artist:
        return self.artists.backfill_artist_times(artist)

    def upsert_artist(self, artist: Artist) -> None:
        self.artists.upsert_artist(artist)

    def mark_synced(self, did: str, stamp: str, must_exist: bool = True) -> None:
        self.artists.mark_synced(did, stamp, must_exist)

    def mark_over_record_cap(self, did: str, collections: list[str], stamp: str) -> None:
        self.artists.mark_over_record_cap(did, collections, stamp)

    # ---- slugs -------------------------------------------------------------------------------

    def slug_owner(self, did: str, slug: str) -> str | None:
        return self.slugs.slug_owner(did, slug)

    def claim_slug(self, did: str, handle: str, slug: str, album_id: str) -> bool:
        return self.slugs.claim_slug(did, handle, slug, album_id)

    def release_slug(self, did: str, handle: str, slug: str, album_id: str) -> None:
        self.slugs.release_slug(did, handle, slug, album_id)

    def finish_rename(self, album: Album, handle: str, title: str, slug: str, updated_at: str) -> Album:
        return self.slugs.finish_rename(album, handle, title, slug, updated_at)

    def drop_former_slugs(self, did: str, album_id: str) -> list[str]:
        return self.slugs.drop_former_slugs(did, album_id)

    # ---- albums ------------------------------------------------------------------------------

    def set_album_fields(
        self, album: Album, *, versioned: bool = False, expected: frozenset[int] | None = None, **changes: Any
    ) -> Album:
        return self.albums.set_album_fields(album, versioned=versioned, expected=expected, **changes)

    def delete_album_items(self, album: Album, handle: str) -> None:
        self.albums.delete_album_items(album, handle)

    def counter_action(self, album_id: str, tracks: int, plays: int, title: str | None = None) -> Action:
        return self.albums.counter_action(album_id, tracks, plays, title)

    def recount(self, album_id: str) -> Album | None:
        return self.albums.recount(album_id)

    def unlist_if_empty(self, album_id: str) -> None:
        self.albums.unlist_if_empty(album_id)

    def apply_album_list(
        self, before: Album | None, after: Album, handle: str, moves: list[tuple[Track, Track]]
    ) -> bool:
        return self.album_lists.apply_album_list(before, after, handle, moves)

    def lock_album(
        self, album_id: str, token: str, seconds: int, expected: frozenset[int] | None = None
    ) -> Album | None:
        return self.albums.lock_album(album_id, token, seconds, expected)

    def unlock_album(self, album_id: str, token: str, undo_version: bool = False) -> None:
        self.albums.unlock_album(album_id, token, undo_version)

    def image_in_use(self, image_id: str) -> bool:
        return self.albums.image_in_use(image_id)

    # ---- tracks and record guards ------------------------------------------------------------

    def _track_key(self, track: Track) -> dict[str, str]:
        return track_key(track)

    def _track_item(self, track: Track) -> dict[str, Any]:
        return track_item(track)

    def artist_tracks(self, did: str) -> list[Track]:
        return self.tracks.artist_tracks(did)

    def find_track(self, track_id: int) -> Track | None:
        return self.tracks.find_track(track_id)

    def album_tracks(self, album_id: str, limit: int | None = None) -> list[Track]:
        return self.tracks.album_tracks(album_id, limit)

    def put_track(self, track: Track, new: bool = False) -> Action:
        return self.tracks.put_track(track, new)

    def delete_track_action(self, track: Track, must_exist: bool = False) -> Action:
        return self.tracks.delete_track_action(track, must_exist)

    def guard_action(self, track: Track, stale: int | None = None) -> Action:
        return self.tracks.guard_action(track, stale)

    def guard_key(self, track: Track) -> dict[str, str] | None:
        return self.tracks.guard_key(track)

    def guard_delete_actions(self, track: Track) -> list[Action]:
        return self.tracks.guard_delete_actions(track)

    def record_holder(self, did: str, record_uri: str) -> tuple[int | None, Track | None]:
        return self.tracks.record_holder(did, record_uri)

    def remove_track(self, track: Track) -> None:
        self.tracks.remove_track(track)

    def save_track(self, track: Track, replaces: Track | None = None) -> None:
        self.tracks.save_track(track, replaces)

    def add_new_tracks(self, tracks: list[Track]) -> list[Track]:
        return self.tracks.add_new_tracks(tracks)

    def update_track_record(self, before: Track, after: Track) -> bool:
        return self.tracks.update_track_record(before, after)

    def drop_track(self, track: Track) -> bool:
        return self.tracks.drop_track(track)

    def release_tracks(self, tracks: list[Track], delete: bool, cids: dict[str, str | None]) -> None:
        self.tracks.release_tracks(tracks, delete, cids)

    def artist_track_count(self, did: str, up_to: int) -> int:
        return self.track_cids.artist_track_count(did, up_to)

    def set_track_cids(self, tracks: list[Track], cids: dict[str, str | None]) -> None:
        self.track_cids.set_track_cids(tracks, cids)

    def album_track_refs(self, album_id: str) -> list[Track]:
        return self.track_cids.album_track_refs(album_id)

    # ---- membership and claims ---------------------------------------------------------------

    def move_tracks_into(self, album: Album, moves: list[Move]) -> None:
        self.membership.move_tracks_into(album, moves)

    def detach_track(self, album_id: str, track: Track, standalone: Track) -> None:
        self.membership.detach_track(album_id, track, standalone)

    def detach_tracks(self, tracks: list[Track]) -> list[Track]:
        return self.membership.detach_tracks(tracks)

    def claim_tracks(self, did: str, album_id: str, uris: list[str], token: str, seconds: int) -> list[str]:
        return self.claims.claim_tracks(did, album_id, uris, token, seconds)

    def release_claims(self, did: str, album_id: str, uris: list[str], token: str) -> None:
        self.claims.release_claims(did, album_id, uris, token)

    def claim_membership_action(self, did: str, album_id: str, uri: str, track_id: int) -> Action:
        return self.claims.claim_membership_action(did, album_id, uri, track_id)
