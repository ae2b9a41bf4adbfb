"""What the services need from the world, as Protocols: the catalogue, the album-page cache,
the session store, the sealer of secrets, the cover store, the artist's PDS, and the jobs
that finish large deletions.

Adapters implement them (adapters/dynamodb, adapters/kms_sealer, adapters/atproto); services
take them by constructor injection, so a service can run on the in-memory fakes of
tests/fakes in a unit test. Only our own ports are here, never a library's interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from albums_core.domain.models import Album, Artist, TokenAccount, Track

if TYPE_CHECKING:
    from albums_core.adapters.atproto.xrpc import Listing, Record, Tokens
    from albums_core.adapters.dynamodb.session_store import Session
    from albums_core.domain.cover_images import Cover


class Pds(Protocol):
    """The record calls of an authenticated session on the artist's PDS.

    Failures are the XRPC client's: `PdsUnavailable` (unreachable, 5xx), `XrpcError` (4xx;
    `InvalidSwap` when `swap_commit` is no longer the head), `SessionRevoked` (the refresh
    token was refused)."""

    did: str
    pds_url: str
    tokens: Tokens
    session_key: str  # the OAuth session a later job refers to ("" for an app-password session)

    def get_record(self, collection: str, rkey: str) -> Record | None: ...

    def list_records(self, collection: str, *, max_pages: int, cursor: str | None = None) -> Listing:
        """`com.atproto.repo.listRecords` of the collection from `cursor` (its start: None), at
        most `max_pages` pages of 100, each record with its CID; `complete` once the end was
        reached, else `cursor` where a next call goes on."""
        ...

    def create_record(self, collection: str, record: dict[str, Any], rkey: str | None = None) -> tuple[str, str]:
        """(uri, cid) of the new record."""
        ...

    def apply_writes(self, writes: list[dict[str, Any]], swap_commit: str | None) -> dict[str, Any]:
        """`com.atproto.repo.applyWrites`: all the writes or none; the answer carries the new
        `commit` and one `results` entry (with the `cid` of a create or update) per write."""
        ...

    def latest_commit(self) -> str: ...


class Catalogue(Protocol):
    """The catalogue's albums, tracks, slugs, track claims and album leases, as the write side
    uses them. Each method is one conditional write or transaction; a condition that fails is
    a domain error (or the documented return value), never a database exception."""

    # ---- reads
    def get_album(self, album_id: str) -> Album | None: ...

    def load_album(self, album_id: str) -> tuple[Album, list[Track]] | None:
        """The album and its tracks, read consistently."""
        ...

    def artist_tracks(self, did: str) -> list[Track]: ...

    def artist_track_count(self, did: str, up_to: int) -> int:
        """How many tracks the artist has, counted no further than `up_to`."""
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

    def unlock_album(self, album_id: str, token: str) -> None: ...

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


class DeletionJobs(Protocol):
    """Deletions of albums too large for a request."""

    def hand_over(self, album: Album, handle: str, cascade: bool, pds: Pds) -> None:
        """At once: the album and its slug leave the catalogue, and a cleanup job (holding its
        own copy of the session's PDS credentials) takes over its tracks."""
        ...


class ArtistDirectory(Protocol):
    """The artists we index, read by DID or by handle (the handle's profile copy)."""

    def get_artist(self, did: str) -> Artist | None: ...

    def get_artist_by_handle(self, handle: str) -> Artist | None: ...

    def backfill_artist_times(self, artist: Artist) -> Artist:
        """An artist item written before artists had times gets them, once; the artist with them."""
        ...


class PageCache(Protocol):
    """Rendered album pages, with invalidation that a reader that started earlier cannot undo."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, body: str, read_started_ms: int) -> bool:
        """False when an invalidation came after `read_started_ms` (or the page is too large)."""
        ...

    def invalidate(self, key: str) -> None:
        """Never raises."""
        ...


class SessionStore(Protocol):
    """Logged-in sessions, their PDS tokens sealed at rest."""

    def create(self, did: str, handle: str, pds_url: str, tokens: Tokens) -> Session: ...

    def load(self, session_id: str) -> Session:
        """The live session; `InvalidSession` when unknown, expired or unreadable."""
        ...

    def store_tokens(self, session: Session, tokens: Tokens) -> None: ...

    def delete(self, session_id: str) -> None: ...


class Sealer(Protocol):
    """Authenticated encryption bound to a context (the session key): a sealed payload moved to
    another context does not open."""

    def seal(self, plaintext: bytes, context: str) -> dict[str, bytes]: ...

    def unseal(self, item: dict[str, Any], context: str) -> bytes:
        """`SealError` when the payload does not open."""
        ...


class CoverStore(Protocol):
    """Cover objects: each cover's image and thumbnail, uploads straight to the store."""

    def put(self, cover: Cover) -> None:
        """The image and its thumbnail, under the keys the cover names."""
        ...

    def read(self, key: str, max_bytes: int) -> bytes | None:
        """An object's bytes; None when it is missing or larger than `max_bytes`."""
        ...

    def delete(self, key: str) -> None: ...

    def delete_image(self, image_id: str) -> None:
        """Every object of one cover (image and thumbnail); nothing when there is none."""
        ...

    def upload_form(self, key: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        """A presigned POST for one key: `url` and `fields`."""
        ...


class DeveloperTokenStore(Protocol):
    """Developer tokens: each account's (names, dates, the texts sealed together, bound to
    `context(did)`), and which account a token's hash or a handle belongs to."""

    def context(self, did: str) -> str: ...

    def load(self, did: str, consistent: bool = False) -> TokenAccount | None: ...

    def owner_of(self, token_hash: str) -> tuple[str, str] | None:
        """(did, prefix) of a live token."""
        ...

    def did_of_handle(self, handle: str) -> str | None: ...

    def save(
        self,
        account: TokenAccount,
        handle: str | None = None,
        added: tuple[str, str] | None = None,
        removed: str | None = None,
    ) -> None:
        """`ConcurrentUpdate` when the account changed since it was read."""
        ...

    def touch(self, did: str, prefix: str, when: int) -> None: ...
