"""Read-modify-write of ATProto records in batches.

Each record is read, changed by a function that touches only its own field, and written
back with `com.atproto.repo.applyWrites` guarded by `swapCommit` = the repository commit
read before the records: any concurrent change to the repository makes the write fail
as a whole, and the batch is read again and re-applied. Records that already hold the
wanted value are not written, so repeating a half-finished job finishes it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from albums_core.adapters.atproto.xrpc import Record, XrpcError
from albums_core.domain.at_uri import AtUri
from albums_core.domain.errors import Conflict
from albums_core.ports import Pds

DELETE = object()  # returned by a change function: delete the record
# The PDS accepts at most 200 writes in one applyWrites call.
MAX_WRITES = 200
_ATTEMPTS = 6
_READERS = 8

Change = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Edit:
    uri: str
    change: Change


def read_records(pds: Pds, uris: list[str]) -> dict[str, Record | None]:
    def one(uri: str) -> tuple[str, Record | None]:
        at = AtUri.parse(uri)
        assert at is not None
        return uri, pds.get_record(at.collection, at.rkey)

    if len(uris) <= 1:
        return dict(one(u) for u in uris)
    with ThreadPoolExecutor(min(_READERS, len(uris))) as pool:
        return dict(pool.map(one, uris))


def _write_for(uri: str, record: Record, change: Change) -> dict[str, Any] | None:
    at = AtUri.parse(uri)
    assert at is not None
    new = change(copy.deepcopy(record.value))
    if new is DELETE:
        return {"$type": "com.atproto.repo.applyWrites#delete", "collection": at.collection, "rkey": at.rkey}
    if new is None or new == record.value:
        return None
    return {"$type": "com.atproto.repo.applyWrites#update", "collection": at.collection, "rkey": at.rkey, "value": new}


@dataclass(frozen=True)
class Snapshot:
    """Records already read by the caller, and the repository commit read before them: the
    first attempt writes from these instead of reading every record again."""

    commit: str
    records: dict[str, Record | None]


def read_snapshot(pds: Pds, uris: list[str]) -> Snapshot:
    commit = pds.latest_commit()
    return Snapshot(commit, read_records(pds, uris))


def apply_edits(pds: Pds, edits: list[Edit], snapshot: Snapshot | None = None) -> dict[str, str | None]:
    """Apply every edit; returns the record CIDs afterwards (None for deleted or missing
    records). Raises PdsUnavailable / XrpcError when the PDS fails, Conflict when the
    repository keeps changing under us."""
    return {u: (r.cid if r else None) for u, r in write_records(pds, edits, snapshot).items()}


def write_records(pds: Pds, edits: list[Edit], snapshot: Snapshot | None = None) -> dict[str, Record | None]:
    """`apply_edits`, returning each record as it now stands on the PDS (its value as written,
    its new CID; None when deleted or missing). With a `snapshot` that covers every edit, the
    first attempt reads nothing; a swap failure reads again, as without one."""
    uris = [e.uri for e in edits]
    for _ in range(_ATTEMPTS):
        if snapshot is not None and all(u in snapshot.records for u in uris):
            commit, records = snapshot.commit, {u: snapshot.records[u] for u in uris}
        else:
            commit = pds.latest_commit()
            records = read_records(pds, uris)
        snapshot = None  # a retry reads again: the repository changed since
        after: dict[str, Record | None] = dict(records)
        writes: list[tuple[str, dict[str, Any]]] = []
        for edit in edits:
            record = records[edit.uri]
            if record is None:
                continue
            write = _write_for(edit.uri, record, edit.change)
            if write is not None:
                writes.append((edit.uri, write))
        try:
            unknown: list[str] = []
            for start in range(0, len(writes), MAX_WRITES):
                chunk = writes[start : start + MAX_WRITES]
                out = pds.apply_writes([w for _, w in chunk], swap_commit=commit)
                commit = str((out.get("commit") or {}).get("cid") or pds.latest_commit())
                results = out.get("results") or []
                for i, (uri, write) in enumerate(chunk):
                    if write["$type"].endswith("#delete"):
                        after[uri] = None
                    elif i < len(results) and isinstance(results[i], dict) and results[i].get("cid"):
                        after[uri] = Record(uri, str(results[i]["cid"]), write["value"])
                    else:
                        unknown.append(uri)  # unknown until read again
            if unknown:
                after.update(read_records(pds, unknown))
            return after
        except XrpcError as exc:
            if exc.error != "InvalidSwap":
                raise
    raise Conflict("the album's records kept changing on the PDS; try again")
