"""The value types of a signed-in account and of its PDS: a session, its PDS tokens, an OAuth
grant, a record as a PDS returns it. The adapters build and store them (adapters/atproto,
adapters/dynamodb/session_store.py); services and ports speak only these."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Tokens:
    """An app-password session's PDS tokens."""

    access_jwt: str
    refresh_jwt: str


@dataclass(frozen=True)
class Record:
    uri: str
    cid: str
    value: dict[str, Any]


@dataclass
class Listing:
    """What one bounded listRecords call read. `cursor` is where a next call continues (None
    once the collection's end is reached, or when the PDS gave no way on); `complete` says the
    end was reached; `stopped` why it ended: "end", a cap ("pages", "records", "bytes"), the
    caller's budget ("deadline", "calls") or "loop" (a cursor given twice)."""

    records: list[Record] = field(default_factory=list)
    cursor: str | None = None
    complete: bool = False
    stopped: str = "end"
    pages: int = 0
    size: int = 0  # bytes of the responses

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


@dataclass
class Grant:
    """An OAuth session's secrets and state (sealed at rest; the nonces are public values).
    The client id is the one the grant was made to: refreshes and revocation use it."""

    client_id: str
    issuer: str
    access_token: str
    refresh_token: str
    dpop_key_pem: str
    scope: str
    expires_at: float | None
    as_nonce: str = ""
    pds_nonce: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Grant:
        return cls(**json.loads(raw))


# How long a started OAuth sign-in may take (its state item's and the browser cookie's life).
STATE_TTL_SECONDS = 600


@dataclass(frozen=True)
class Viewer:
    """Who reads a page: the signed-in account, when there is one."""

    did: str
    handle: str | None


def session_key(session_id: str) -> str:
    """The stored key of a session: its id never rests in the table."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass
class Session:
    session_id: str
    did: str
    handle: str
    pds_url: str
    tokens: Tokens
    expires_at: int
    grant: Grant | None = None  # OAuth sessions only
    grant_version: int = 0
    stored_key: str = ""  # set when loaded by key (a cleanup job's reference), without the id

    @property
    def key(self) -> str:
        return self.stored_key or session_key(self.session_id)
