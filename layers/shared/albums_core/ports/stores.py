"""The ports of what the services keep: the page cache, sessions, sealed secrets, cover objects,
developer tokens, the catalogue's jobs, the sweep's and the firehose gap's bookkeeping, signed
cursors, and the catalogue stream's plumbing. adapters/ implements them; bootstrap wires them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from albums_core.domain.models import Album, Artist, TokenAccount, Track
from albums_core.domain.sessions import Grant, Session, Tokens

if TYPE_CHECKING:
    from albums_core.domain.cover_images import Cover
    from albums_core.domain.firehose_events import Gap
    from albums_core.ports.pds import Pds


class PageCache(Protocol):
    """Rendered pages (albums, artists' profiles), with invalidation that a reader that started
    earlier cannot undo; the cache names its own keys."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, body: str, read_started_ms: int) -> bool:
        """False when an invalidation came after `read_started_ms` (or the page is too large)."""
        ...

    def invalidate(self, key: str) -> None:
        """Never raises."""
        ...

    def album_key(self, handle: str, slug: str) -> str: ...

    def artist_handle_key(self, handle: str) -> str: ...

    def artist_did_key(self, did: str) -> str: ...


class SessionStore(Protocol):
    """Logged-in sessions, their PDS tokens or OAuth grant sealed at rest."""

    def credentials(self, headers: Mapping[str, str] | None, cookies: Sequence[str] | None) -> str | None:
        """The session id a request carries (its cookie, else a Bearer token)."""
        ...

    def create(self, did: str, handle: str, pds_url: str, tokens: Tokens) -> Session: ...

    def create_oauth(self, did: str, handle: str, pds_url: str, grant: Grant) -> Session: ...

    def load(self, session_id: str) -> Session:
        """The live session; `InvalidSession` when unknown, expired or unreadable."""
        ...

    def load_by_key(self, key: str) -> Session:
        """The live session by its stored key (a cleanup job's reference); `InvalidSession`."""
        ...

    def store_tokens(self, session: Session, tokens: Tokens) -> None: ...

    def delete(self, session_id: str) -> None: ...


class Sealer(Protocol):
    """Authenticated encryption bound to a context: a sealed payload moved to another context
    does not open."""

    def seal(self, plaintext: bytes, context: str) -> dict[str, bytes]: ...

    def unseal(self, item: dict[str, Any], context: str) -> bytes:
        """`SealError` when the payload does not open."""
        ...


class StoredObject(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def last_modified(self) -> datetime: ...


class CoverObjects(Protocol):
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


class ListedObjects(Protocol):
    """The sweep's view of the covers bucket: objects by prefix, in pages."""

    def list_page(self, prefix: str, limit: int, cursor: str | None) -> tuple[list[Any], str | None]: ...

    def delete_keys(self, object_keys: list[str]) -> None: ...


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


class JobQueue(Protocol):
    """The catalogue's job items (album cleanups, index and like re-read jobs): the catalogue
    stream runs each new pending one."""

    def hand_over(self, album: Album, handle: str, job: dict[str, Any]) -> None:
        """At once: the album and its slug leave the catalogue and the job comes."""
        ...

    def create(self, job: dict[str, Any], only_new: bool = False) -> bool:
        """With `only_new`, False when the job exists already."""
        ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def set_status(
        self, job_id: str, status: str, sealed: dict[str, Any] | None = None, session_ref: str | None = None
    ) -> None:
        """`JobGone` when the job finished meanwhile."""
        ...

    def store_credentials(self, job_id: str, sealed: dict[str, Any]) -> None: ...

    def finish(self, job_id: str) -> None: ...

    def of_artist(self, did: str, status: str | None = None) -> list[dict[str, Any]]: ...


class DeletionJobs(Protocol):
    """Deletions of albums too large for a request."""

    def hand_over(self, album: Album, handle: str, cascade: bool, pds: Pds) -> None:
        """At once: the album and its slug leave the catalogue, and a cleanup job (holding its
        own copy of the session's PDS credentials) takes over its tracks."""
        ...


class SweepStore(Protocol):
    def load_state(self) -> dict[str, Any]: ...

    def save_state(self, state: dict[str, Any]) -> None: ...

    def delete_expired(
        self, table: str, key: str, now: float, limit: int, cursor: str | None
    ) -> tuple[int, str | None]: ...

    def stale_artists(
        self, synced_before: str, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[Artist], dict[str, Any] | None]: ...


class FirehoseGaps(Protocol):
    """A gap of the stream and the progress of its re-read, on the consumer's lease item."""

    def open(self, source: str, holder: str, gap_id: str, cursor: int | None, at: str) -> bool: ...

    def current(self, source: str) -> Gap | None: ...

    def advance(
        self, source: str, holder: str, gap_id: str, after: dict[str, Any] | None, enqueued: int, at: str
    ) -> bool: ...

    def artists_page(
        self, limit: int, after: dict[str, Any] | None
    ) -> tuple[list[Artist], list[str], dict[str, Any] | None]: ...


class CursorSigner(Protocol):
    """Page cursors handed to clients, signed so that a client cannot forge a position."""

    def encode(self, position: dict[str, str]) -> str: ...

    def decode(self, cursor: str, expected_keys: frozenset[str]) -> dict[str, str]:
        """`BadRequest` when the cursor is malformed, forged or of another listing."""
        ...


class ItemChange(Protocol):
    """One catalogue stream record, decoded: what kind of item changed, and how."""

    @property
    def event(self) -> str | None: ...

    @property
    def kind(self) -> str: ...

    @property
    def new(self) -> dict[str, Any] | None: ...

    @property
    def old(self) -> dict[str, Any] | None: ...


class StreamPlumbing(Protocol):
    """The catalogue stream's records decoded, their failed attempts counted, and the records
    that keep failing sent to the dead-letter queue."""

    def decode(self, record: dict[str, Any]) -> ItemChange: ...

    def count_attempt(self, event_id: str) -> int: ...

    def dead_letter(self, record: dict[str, Any], reason: str) -> None: ...


class SubsonicStore(Protocol):
    """What the Subsonic browser keeps between requests (cursors by offset, where an album's
    page is, list orders) and the plays it counts."""

    def offset_cursors(self, list_type: str, offsets: list[int]) -> dict[int, dict[str, str]]: ...

    def keep_cursor(self, list_type: str, offset: int, cursor: dict[str, str]) -> None: ...

    def album_where(self, album_id: str) -> tuple[str, str] | None: ...

    def keep_album_where(self, album_id: str, handle: str, slug: str) -> None: ...

    def order(self, list_type: str) -> list[str] | None: ...

    def keep_order(self, list_type: str, ids: list[str]) -> None: ...

    def albums(self, ids: list[str]) -> dict[str, Album]: ...

    def track(self, track_id: int) -> Track | None: ...

    def listed_snapshot(self) -> list[Album]: ...

    def cursor_at(self, offset: int) -> dict[str, str] | None: ...

    def count_play(self, user_did: str, track: Track, second: int) -> bool: ...
