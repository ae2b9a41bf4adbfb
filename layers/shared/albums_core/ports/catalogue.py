"""The catalogue's ports, one per aggregate (artists and handles, albums and slugs, tracks, track
claims and album leases, likes, jobs), as the services use them; each service types its
catalogue as the aggregates it needs (`Catalogue`: the album admin's; `IndexCatalogue`: the
indexer's; ...). adapters/dynamodb implements them (bootstrap hands the same catalogue to
each); tests/fakes holds in-memory fakes of `Catalogue` and `ArtistDirectory`.

Each write is one conditional write or transaction; a condition that fails is a domain error
(or the documented return value), never a database exception."""

from __future__ import annotations

from typing import Any, Protocol

from albums_core.domain.models import Album, Artist, Track

# ---- artists and their handles -------------------------------------------------------------


class ArtistDirectory(Protocol):
    """The artists we index, read by DID or by handle (the handle's profile copy)."""

    def get_artist(self, did: str) -> Artist | None: ...

    def get_artist_by_handle(self, handle: str) -> Artist | None: ...

    def backfill_artist_times(self, artist: Artist) -> Artist:
        """An artist item written before artists had times gets them, once; the artist with them."""
        ...


class ArtistReads(Protocol):
    def get_artist(self, did: str) -> Artist | None: ...

    def get_artist_by_handle(self, handle: str) -> Artist | None: ...

    def get_artists(self, dids: set[str]) -> dict[str, Artist]: ...


class ArtistWrites(Protocol):
    def upsert_artist(self, artist: Artist) -> None:
        """The artist and its handle's pointer (the handle verified, or the DID itself)."""
        ...

    def mark_synced(self, did: str, stamp: str, must_exist: bool = True) -> None: ...

    def mark_over_record_cap(self, did: str, collections: list[str], stamp: str) -> None: ...


class Artists(ArtistReads, ArtistWrites, Protocol):
    pass


# ---- albums and their slugs ----------------------------------------------------------------


class AlbumReads(Protocol):
    def get_album(self, album_id: str) -> Album | None: ...

    def load_album(self, album_id: str) -> tuple[Album, list[Track]] | None:
        """The album and its tracks, read consistently."""
        ...

    def artist_albums(self, did: str) -> list[Album]: ...

    def find_album_by_slug(self, handle: str, slug: str) -> tuple[Artist, Album, list[Track]] | str | None:
        """The artist, the album and its tracks; a former slug's album's current slug; None."""
        ...

    def listed_albums_page(self, limit: int, after: dict[str, str] | None) -> tuple[list[Album], dict[str, str] | None]:
        """One page of the albums that have tracks, by title, and where the next starts."""
        ...


class AlbumWrites(Protocol):
    def create_album(self, album: Album, handle: str) -> None:
        """Album, slug claim and pointer at once; `Conflict` when the slug is taken."""
        ...

    def set_album_fields(
        self, album: Album, *, versioned: bool = False, expected: frozenset[int] | None = None, **changes: Any
    ) -> Album: ...

    def claim_slug(self, did: str, handle: str, slug: str, album_id: str) -> bool:
        """True when (artist, slug) is now, or already was, this album's."""
        ...

    def finish_rename(self, album: Album, handle: str, title: str, slug: str, updated_at: str) -> Album: ...

    def delete_album_items(self, album: Album, handle: str) -> None: ...

    def recount(self, album_id: str) -> Album | None: ...


class FormerSlugs(Protocol):
    def drop_former_slugs(self, did: str, album_id: str) -> list[str]:
        """A deleted album's former slugs go; the slugs."""
        ...


class ImageReferences(Protocol):
    def image_in_use(self, image_id: str) -> bool:
        """Whether an album or a track refers to the image (eventually consistent)."""
        ...


# ---- track claims and album leases ---------------------------------------------------------


class AlbumLeases(Protocol):
    def lock_album(
        self, album_id: str, token: str, seconds: int, expected: frozenset[int] | None = None
    ) -> Album | None:
        """The album as it stands under the new lease, its version one more; None while another
        request holds it; PreconditionFailed when its version is not one of `expected`."""
        ...

    def unlock_album(self, album_id: str, token: str, undo_version: bool = False) -> None: ...


# ---- tracks ------------------------------------------------------------------------------


class TrackReads(Protocol):
    def artist_tracks(self, did: str) -> list[Track]: ...

    def artist_track_count(self, did: str, up_to: int) -> int:
        """How many tracks the artist has, counted no further than `up_to`."""
        ...

    def album_tracks(self, album_id: str, limit: int | None = None) -> list[Track]:
        """The tracks still in a (deleted) album's partition, the next `limit` of them."""
        ...


class IndexedTracks(Protocol):
    """The indexer's writes of tracks: each from its record, where its album puts it."""

    def next_track_id(self) -> int: ...

    def save_track(self, track: Track, replaces: Track | None = None) -> None:
        """`ConcurrentUpdate` when its album is gone; `RecordHeld` when another writer made
        the record's track meanwhile."""
        ...

    def remove_track(self, track: Track) -> None: ...

    def detach_tracks(self, tracks: list[Track]) -> list[Track]: ...


class ReleasedTracks(Protocol):
    def release_tracks(self, tracks: list[Track], delete: bool, cids: dict[str, str | None]) -> None:
        """Tracks leave a deleted album: gone with `delete`, else standalone with new CIDs."""
        ...


# ---- likes -------------------------------------------------------------------------------


class Likes(Protocol):
    def liked_track_ids(self, user_did: str, track_ids: list[int]) -> set[int]: ...


# ---- what each service uses, by aggregate --------------------------------------------------


class Catalogue(Protocol):
    """The catalogue's albums, tracks, slugs, track claims and album leases, as the album
    admin uses them (tests/fakes/catalogue.py is its fake)."""

    # ---- reads
    def get_album(self, album_id: str) -> Album | None: ...

    def load_album(self, album_id: str) -> tuple[Album, list[Track]] | None:
        """The album and its tracks, read consistently."""
        ...

    def artist_tracks(self, did: str) -> list[Track]: ...

    def artist_track_count(self, did: str, up_to: int) -> int:
        """How many tracks the artist has, counted no further than `up_to`."""
        ...

    def album_track_refs(self, album_id: str) -> list[Track]:
        """The album's tracks, read consistently, with only what a rewrite of their records
        needs: key, record URI and CID, play count, creation time (the rest left empty)."""
        ...

    def find_track(self, track_id: int) -> Track | None: ...

    def slug_owner(self, did: str, slug: str) -> str | None:
        """The id of the album that holds (artist, slug), if any."""
        ...

    # ---- albums and slugs
    def create_album(self, album: Album, handle: str) -> None:
        """Album, slug claim and pointer at once; `Conflict` when the slug is taken."""
        ...

    def set_album_fields(
        self, album: Album, *, versioned: bool = False, expected: frozenset[int] | None = None, **changes: Any
    ) -> Album: ...

    def claim_slug(self, did: str, handle: str, slug: str, album_id: str) -> bool:
        """True when (artist, slug) is now, or already was, this album's."""
        ...

    def release_slug(self, did: str, handle: str, slug: str, album_id: str) -> None: ...

    def finish_rename(self, album: Album, handle: str, title: str, slug: str, updated_at: str) -> Album: ...

    def delete_album_items(self, album: Album, handle: str) -> None: ...

    # ---- the album's lease: one multi-step change at a time
    def lock_album(
        self, album_id: str, token: str, seconds: int, expected: frozenset[int] | None = None
    ) -> Album | None:
        """The album as it stands under the new lease, its version one more; None while another
        request holds it; PreconditionFailed when its version is not one of `expected`."""
        ...

    def unlock_album(self, album_id: str, token: str, undo_version: bool = False) -> None: ...

    # ---- tracks
    def reserve_track_ids(self, count: int) -> range: ...

    def claim_tracks(self, did: str, album_id: str, uris: list[str], token: str, seconds: int) -> list[str]:
        """Claim track records for an album; returns those another album holds (and then
        claims nothing)."""
        ...

    def move_tracks_into(self, album: Album, moves: list[tuple[Track | None, Track]]) -> None:
        """Each (where the track was, the track in the album) moved in with its membership and
        the album's counters. Each is made from where its record's track is by then: one another
        writer moved into the album meanwhile (the indexer following the list record, a replay)
        keeps its place and gets its membership; a new track (None) of a record that has a
        track item by now (another writer created it) is not created: that item is moved in,
        keeping its id. Only a track another album holds is `TrackTaken`."""
        ...

    def detach_track(self, album_id: str, track: Track, standalone: Track) -> None:
        """The album's track becomes `standalone` and the album's counters drop, at once."""
        ...

    def recount(self, album_id: str) -> Album | None: ...

    def set_track_cids(self, tracks: list[Track], cids: dict[str, str | None]) -> None:
        """Only the tracks' CIDs change (never their counters), each batch whole or not at all."""
        ...

    def release_tracks(self, tracks: list[Track], delete: bool, cids: dict[str, str | None]) -> None: ...


class PageCatalogue(Likes, Protocol):
    """get_album's: the album by its slug, the viewer's likes."""

    def find_album_by_slug(self, handle: str, slug: str) -> tuple[Artist, Album, list[Track]] | str | None: ...


class ListingCatalogue(ArtistReads, Protocol):
    """The listings' (and the Subsonic browser's): albums by title and by artist."""

    def get_album(self, album_id: str) -> Album | None: ...

    def artist_albums(self, did: str) -> list[Album]: ...

    def listed_albums_page(
        self, limit: int, after: dict[str, str] | None
    ) -> tuple[list[Album], dict[str, str] | None]: ...


class CoverCatalogue(ImageReferences, Protocol):
    """The covers': which album an upload is for, whose it is, the album's new cover."""

    def get_album(self, album_id: str) -> Album | None: ...

    def get_artist(self, did: str) -> Artist | None: ...

    def set_album_fields(
        self, album: Album, *, versioned: bool = False, expected: frozenset[int] | None = None, **changes: Any
    ) -> Album: ...


class CleanupCatalogue(TrackReads, ReleasedTracks, ImageReferences, Protocol):
    """A deleted album's cleanup job's: its remaining tracks, released, its cover."""


class IndexCatalogue(
    Artists, AlbumReads, AlbumWrites, AlbumLeases, TrackReads, IndexedTracks, ReleasedTracks, ImageReferences, Protocol
):
    """The indexer's (and the jobs the catalogue stream runs, which index): albums and tracks
    brought to what the artist's repository says."""


class StreamCatalogue(IndexCatalogue, FormerSlugs, Protocol):
    """The catalogue stream's: what a removed album leaves, and the jobs it runs."""
