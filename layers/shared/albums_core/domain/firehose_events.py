"""What the firehose says, once decoded (pure: no SDK, no AWS): the events the consumer applies,
and the checks a record must pass before it may change anything.

A relay sends every repository's commits; we care about three collections. Everything else is
filtered out before any record is decoded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TRACK = "fm.plyr.track"
LIST = "fm.plyr.list"
LIKE = "fm.plyr.like"
COLLECTIONS = frozenset({TRACK, LIST, LIKE})
PREFIX = "fm.plyr."
MAX_LIST_ITEMS = 500
_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_AT_TRACK = re.compile(r"^at://(did:[a-z]+:[a-zA-Z0-9._:%-]{1,2000})/fm\.plyr\.track/([a-zA-Z0-9._:~-]{1,512})$")


def is_tid(value: Any) -> bool:
    return isinstance(value, str) and bool(_TID.match(value))


def newer(rev: str, held: str | None) -> bool:
    """Whether a commit's rev is after the one we hold (revs are TIDs: they sort as strings)."""
    return held is None or rev > held


def seconds_since(stamp: str, now: datetime) -> float | None:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return (now - moment).total_seconds()


@dataclass(frozen=True)
class RecordOp:
    """One create / update / delete of a record we index. `value` is the record read from the
    commit's blocks (None for a delete, or when the block is missing); `problem` says why the
    record may not be applied as it is (None when it may)."""

    action: str
    collection: str
    rkey: str
    cid: str | None = None
    value: dict[str, Any] | None = None
    problem: str | None = None

    def uri(self, repo: str) -> str:
        return f"at://{repo}/{self.collection}/{self.rkey}"


@dataclass(frozen=True)
class Commit:
    """A commit's ops of ours, with what proves them: `commit_cid` names the signed commit block
    among `blocks` (the event's CAR, bytes by CID as sent); the consumer checks them before it
    applies anything (adapters/atproto/commit_verify.py)."""

    seq: int
    repo: str
    rev: str
    time: str
    ops: tuple[RecordOp, ...] = field(default_factory=tuple)
    commit_cid: str | None = None
    blocks: Mapping[str, bytes] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class IdentityChange:
    """#identity: the DID's handle or PDS may have changed (a handle may be absent: re-resolve)."""

    seq: int
    did: str
    time: str
    handle: str | None = None


@dataclass(frozen=True)
class AccountChange:
    """#account: what the host that sent it says of the account (not necessarily its current host)."""

    seq: int
    did: str
    time: str
    active: bool
    status: str | None = None


@dataclass(frozen=True)
class RepoResync:
    """The repository's state is not fully on the stream (#sync, or a commit we could not read
    but whose paths name our collections): read it again from its PDS."""

    seq: int
    did: str
    time: str
    reason: str


@dataclass(frozen=True)
class Info:
    """#info from the relay (OutdatedCursor: events before our cursor are gone), or an error
    frame (FutureCursor, ConsumerTooSlow) reported by the subscription."""

    name: str
    message: str = ""
    seq: int | None = None


@dataclass(frozen=True)
class Skipped:
    """A frame that changes nothing here: `filtered` (other collections, cheap), `unknown`
    (a message type we do not know), `undecodable`."""

    reason: str
    seq: int | None = None


Event = Commit | IdentityChange | AccountChange | RepoResync | Info | Skipped


# ---- the consumer's own state (what the firehose state ports hand the services) ----------------


@dataclass(frozen=True)
class Lease:
    """The consumer's lease on one relay's stream, with the cursor checkpointed there."""

    holder: str
    cursor: int | None
    until: float


GAP_PENDING = "pending"
GAP_DONE = "done"


@dataclass(frozen=True)
class Gap:
    """A gap of the stream and how far the re-read of every artist has got."""

    gap_id: str
    at: str
    cursor: int | None
    status: str
    after: dict[str, Any] | None  # where the next page of artists starts (None: at the start)
    enqueued: int


@dataclass(frozen=True)
class RepoStatus:
    """What a repository's own PDS says of it (`com.atproto.sync.getRepoStatus`)."""

    active: bool
    status: str | None = None


def event_seq(event: Event) -> int | None:
    return event.seq


def strong_ref_track(value: Any) -> tuple[str, str, str] | None:
    """(repo, uri, cid) of a like's subject when it is a valid strongRef to a track record."""
    if not isinstance(value, dict):
        return None
    uri, cid = value.get("uri"), value.get("cid")
    if not isinstance(uri, str) or not isinstance(cid, str) or not cid:
        return None
    found = _AT_TRACK.match(uri)
    if found is None:
        return None
    return found.group(1), uri, cid


MISSING_BLOCK = "no record in the commit's blocks"
NOT_AN_ALBUM = "not an album list"  # a list of another kind (a playlist): not ours, not invalid
# A record we will not store, whatever it holds: well under DynamoDB's 400 KB item, and far
# above what a valid record of ours needs (a list of 500 strong refs is about 90 KB).
MAX_RECORD_BYTES = 128 * 1024
# DynamoDB refuses documents nested deeper than 32 levels; no record of ours nests past 4.
MAX_RECORD_DEPTH = 32


def storage_problem(value: Any) -> str | None:
    """Why a record is too large or too deeply nested to store (its JSON size, estimated
    without encoding it, up to the first byte over the limit); None when it is not."""
    size = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_RECORD_DEPTH:
                return f"nested deeper than {MAX_RECORD_DEPTH} levels"
            size += 2 + len(item)
            if size > MAX_RECORD_BYTES:
                break
            if isinstance(item, dict):
                for key, child in item.items():
                    size += len(str(key).encode("utf-8", "surrogatepass")) + 3
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            size += len(item.encode("utf-8", "surrogatepass")) + 2
        elif isinstance(item, bytes):
            size += len(item) * 2  # base64 and more once stored
        else:
            size += len(str(item))  # numbers, booleans, null, CIDs
        if size > MAX_RECORD_BYTES:
            break
    return f"larger than {MAX_RECORD_BYTES // 1024} KB" if size > MAX_RECORD_BYTES else None


def record_problem(collection: str, value: Any) -> str | None:
    """Why a created or updated record of ours must not be applied; None when it may be.
    Anyone can write any record: each is checked as the API would check it."""
    if not isinstance(value, dict):
        return MISSING_BLOCK
    too_big = storage_problem(value)
    if too_big is not None:
        return too_big
    if value.get("$type") != collection:
        return "$type disagrees with the collection"
    if collection == TRACK:
        title = value.get("title")
        if not isinstance(title, str) or not title.strip() or len(title) > 256:
            return "track without a valid title"
        return None
    if collection == LIST:
        if value.get("listType") != "album":
            return NOT_AN_ALBUM
        items = value.get("items")
        if not isinstance(items, list):
            return "list without items"
        if len(items) > MAX_LIST_ITEMS:
            return "list with more than 500 items"
        return None
    if collection == LIKE:
        if strong_ref_track(value.get("subject")) is None:
            return "like whose subject is not a strongRef to a track"
        return None
    return "not a collection we index"


@dataclass(frozen=True)
class Refusal:
    """Why a commit was not applied (adapters/atproto/commit_verify.py): `reason` a short name
    (counted), `detail` for the log."""

    reason: str
    detail: str
