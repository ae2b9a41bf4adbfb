"""The ports of the PDSes: an artist's session (`Pds`, its record calls), the writer that opens
sessions and edits records on them (`PdsWriter`), the reader of public records (`PdsReader`),
an account's app-password sign-in (`PdsAccounts`) and the identity resolver. They speak records,
sessions and identities: no service names an NSID or an XRPC method. adapters/atproto
implements them (gateway.py); failures are those of domain/upstream.py."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.record_edits import Edit, Sizes, Snapshot
from albums_core.domain.sessions import Listing, Record, Session, Tokens
from albums_core.domain.upstream import Identity


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
        """The collection's records from `cursor` (its start: None), at most `max_pages` pages
        of 100, each with its CID; `complete` once the end was reached, else `cursor` where a
        next call goes on."""
        ...

    def create_record(self, collection: str, record: dict[str, Any], rkey: str | None = None) -> tuple[str, str]:
        """(uri, cid) of the new record."""
        ...

    def apply_writes(self, writes: list[dict[str, Any]], swap_commit: str | None) -> dict[str, Any]:
        """All the writes or none; the answer carries the new `commit` and one `results` entry
        (with the `cid` of a create or update) per write."""
        ...

    def latest_commit(self) -> str: ...


class RecordEditor(Protocol):
    """Read-modify-write of records on one session; every PDS failure is a domain error
    (`InvalidSession`, `AccountRefused`, `Forbidden`, `UpstreamFailure`)."""

    def read(self, uris: list[str], sizes: Sizes | None = None) -> Snapshot:
        """`sizes` (records per collection, as the catalogue counts them) lets a collection be
        read by listing pages when that takes fewer calls than one read per record."""
        ...

    def write(
        self, edits: list[Edit], snapshot: Snapshot | None = None, sizes: Sizes | None = None
    ) -> dict[str, Record | None]: ...

    def apply(self, edits: list[Edit], sizes: Sizes | None = None) -> dict[str, str | None]: ...

    def ensure(self, uri: str, value: dict[str, Any]) -> str: ...


class PdsWriter(Protocol):
    """Sessions opened on artists' PDSes and the record edits made on them."""

    def open(self, session: Session) -> Pds:
        """The session's PDS (its tokens unsealed, refreshed as they expire)."""
        ...

    def open_with_tokens(self, pds_url: str, did: str, tokens: Tokens, store_back: Callable[[Tokens], None]) -> Pds:
        """A session from app-password tokens held elsewhere (a cleanup job's own copy);
        refreshed tokens go to `store_back`."""
        ...

    def editor(self, pds: Pds) -> RecordEditor: ...

    def apply_edits(self, pds: Pds, edits: list[Edit]) -> dict[str, str | None]:
        """The edits, read-modify-write and swap-guarded, with the PDS's own failures (a job
        tells a revoked session from an outage)."""
        ...

    def is_record_key(self, value: object) -> bool: ...

    def record_uri_parts(self, value: object) -> tuple[str, str, str] | None:
        """(DID, collection, record key) of a valid record AT-URI; None for anything else."""
        ...


class PdsReader(Protocol):
    """Public reads of any account's repository, bounded (PDSes are anyone's)."""

    def profile(self, pds_url: str, did: str) -> Record | None:
        """The account's profile record, when it has one."""
        ...

    def blob_url(self, pds_url: str, did: str, cid: str) -> str: ...

    def list_records(
        self,
        pds_url: str,
        did: str,
        collection: str,
        *,
        cursor: str | None,
        budget: ReadBudget,
        max_records: int,
        max_bytes: int,
    ) -> Listing: ...

    def list_order(self, pds_url: str | None, list_uri: str | None) -> list[str] | None:
        """The track URIs a list record orders, None when it cannot be read."""
        ...

    def answering(self, pds_url: str, did: str) -> AbstractContextManager[None]:
        """PDS failures inside become the domain errors the HTTP layer answers (502; 403 when
        the PDS refuses the account, as its latest commit tells)."""
        ...


class PdsAccounts(Protocol):
    """An account's app-password sign-in on its PDS, and the end of a session there."""

    def sign_in(self, pds_url: str, identifier: str, password: str) -> tuple[str, Tokens]:
        """(the DID the PDS signed in, its tokens); `XrpcError` when refused."""
        ...

    def sign_out(self, session: Session) -> None:
        """An app-password session deleted on its PDS, an OAuth grant revoked at its
        authorization server; `XrpcError`/`PdsUnavailable` when that fails."""
        ...


class IdentityResolver(Protocol):
    def resolve(self, identifier: str, *, fresh: bool = False) -> Identity:
        """The DID, verified handle and PDS of a handle or DID (`fresh`: not from the
        container's cache). `UnknownIdentity`, `IdentityUnavailable`."""
        ...


__all__ = ["IdentityResolver", "Pds", "PdsAccounts", "PdsReader", "PdsWriter", "RecordEditor"]
