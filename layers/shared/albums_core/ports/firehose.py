"""What the live ingestion (services/firehose/) needs from the world: the consumer's own state
(its lease, each repository's state, the likes), the catalogue operations it applies records
with, the album pages it drops, a reader of any repository that speaks records, an identity
resolver and the check of a commit. The jobs it requests and the stream's gaps go through the
catalogue's ports (ports.stores.JobQueue, ports.stores.FirehoseGaps).

Implemented in adapters/dynamodb (firehose_lease, repo_state, likes, firehose_gaps, page_drops,
catalogue) and adapters/atproto (repo_reads, commit_verify); wired in
albums_core/bootstrap/firehose.py; faked in memory in tests/fakes/firehose.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from albums_core.domain.firehose_events import Commit, Lease, RepoStatus
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.read_budget import ReadBudget

if TYPE_CHECKING:
    from albums_core.domain.firehose_events import Refusal
    from albums_core.domain.sessions import Listing, Record
    from albums_core.domain.upstream import Identity


class FirehoseLeases(Protocol):
    """One consumer at a time per relay, and the cursor it checkpointed."""

    def acquire(self, source: str, holder: str, seconds: float) -> Lease | None:
        """The lease when it is free, expired or already ours; None while another holds it."""
        ...

    def checkpoint(self, source: str, holder: str, cursor: int | None, seconds: float) -> bool:
        """Renew the lease and store the cursor; False when another consumer took it over."""
        ...

    def release(self, source: str, holder: str) -> None: ...


class RepoStates(Protocol):
    """Per repository: the rev applied, and whether its account is hidden."""

    def repo_state(self, did: str) -> dict[str, Any]:
        """`rev` and `hidden` (absent when never recorded)."""
        ...

    def set_repo_rev(self, did: str, rev: str) -> None:
        """Never moves the rev back."""
        ...

    def set_hidden(self, did: str, hidden: bool, status: str | None) -> None: ...

    def hide_artist(self, artist: Artist) -> None:
        """The artist's handle pointer goes (the artist item stays)."""
        ...

    def unlist_album(self, album_id: str) -> None: ...

    def relist_album(self, album: Album) -> None:
        """Back in the listing while it has tracks."""
        ...


class LikeStore(Protocol):
    """Like records (counted, duplicate, orphan, deleted), one like per (liker, track), and the
    tracks' like counters, each changed in one conditional write with what it counts. Outcomes
    are strings: `applied`, `replayed`, `duplicate`, `moved` (the track is not where it was
    read: look it up again), `tombstoned`, `handed_over`, `gone`."""

    def like_record(self, liker: str, rkey: str) -> dict[str, Any] | None: ...

    def like_records(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]: ...

    def like_records_of(self, liker: str) -> dict[str, dict[str, Any]]:
        """Every like record of one liker (tombstones too), by rkey."""
        ...

    def add_like(self, liker: str, rkey: str, track: Track, subject_cid: str) -> str: ...

    def add_likes(self, likes: list[tuple[str, str, Track, str]]) -> bool:
        """(liker, rkey, track, subject CID) counted at once, or none (False)."""
        ...

    def remove_like(self, liker: str, rkey: str, track: Track | None) -> str: ...

    def remove_likes(self, likes: list[tuple[str, str, int, Track]]) -> bool:
        """(liker, rkey, track id, track) uncounted at once, or none (False)."""
        ...

    def orphan_like(self, liker: str, rkey: str, subject_uri: str, subject_cid: str) -> bool:
        """A like of a track not held (yet); False when its record exists already."""
        ...

    def orphans(self, artist_did: str) -> list[dict[str, Any]]:
        """Pointers (liker, rkey, track_uri, subject_cid) of the artist's orphan likes."""
        ...

    def adopt_orphan(self, pointer: dict[str, Any], track: Track) -> str: ...


class FirehoseCatalogue(Protocol):
    """The catalogue as ingestion reads and writes it: an artist's tracks and albums, new and
    changed track records, each write conditional on the item being as read."""

    def get_artist(self, did: str) -> Artist | None: ...

    def upsert_artist(self, artist: Artist) -> None: ...

    def artist_tracks(self, did: str) -> list[Track]: ...

    def artist_albums(self, did: str) -> list[Album]: ...

    def find_track(self, track_id: int) -> Track | None: ...

    def reserve_track_ids(self, count: int) -> range: ...

    def add_new_tracks(self, tracks: list[Track]) -> list[Track]:
        """The track each record has now: the one given, or one another writer created."""
        ...

    def update_track_record(self, before: Track, after: Track) -> bool:
        """False when the item moved, went or holds another record version."""
        ...

    def drop_track(self, track: Track) -> bool:
        """False when the item is not where it was read."""
        ...

    def unlist_if_empty(self, album_id: str) -> None: ...

    def apply_album_list(
        self, before: Album | None, after: Album, handle: str, moves: list[tuple[Track, Track]]
    ) -> bool:
        """An album list record applied at once: `after` created (`before` None) or updated from
        `before` as held (its version and track count, not under a request's lease), and each
        (track as held, track where it goes) moved. False, with nothing written, when any item
        is not as held."""
        ...


class RepoIndexer(Protocol):
    """The indexer (services/indexer.py) on the catalogue: it reads the repository again and
    writes only differences; what does not fit the budget is left to a background job."""

    def index(self, artist: Artist, budget: ReadBudget) -> Any:
        """An `IndexOutcome` (counts, complete, the job left), or a dict of counts."""
        ...

    def request_backfill(self, artist: Artist, job_id: str | None = None) -> str | None:
        """An index job of the whole repository; None when `job_id` was requested already."""
        ...


class AlbumPages(Protocol):
    """Cached album pages dropped (never raises)."""

    def drop(self, handle: str, slug: str) -> None: ...

    def drop_by_id(self, album_id: str) -> None: ...

    def drop_many(self, pages: set[tuple[str, str]], handles: dict[str, str]) -> None:
        """These pages (handle, slug), and those of these albums (id -> the artist's handle) under
        their slugs as they are now (the albums read together), dropped together."""
        ...


class PdsReader(Protocol):
    """Any account's repository, read without a session. Failures are the XRPC client's
    (`PdsUnavailable`, `XrpcError`)."""

    def list_records(self, pds_url: str, did: str, collection: str, budget: ReadBudget | None = None) -> Listing: ...

    def get_record(self, pds_url: str, did: str, collection: str, rkey: str) -> Record | None: ...

    def repo_status(self, pds_url: str, did: str) -> RepoStatus:
        """A repository its PDS does not know is inactive, `deleted`."""
        ...


class IdentityResolver(Protocol):
    def resolve(self, did: str) -> Identity:
        """`UnknownIdentity` when the DID names no one; `PdsUnavailable` when it cannot be read."""
        ...

    def forget(self, *identifiers: str) -> None:
        """Whatever is cached of these DIDs and handles is read again next time."""
        ...


class CommitCheck(Protocol):
    def check(self, commit: Commit) -> Refusal | None:
        """None when the commit proves itself against its repository's key and tree."""
        ...
