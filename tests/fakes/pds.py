"""An artist's repository on a PDS, in memory: the record calls of `albums_core.ports.Pds`."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

from albums_core.adapters.atproto.record_cids import record_cid
from albums_core.adapters.atproto.xrpc import PAGE_SIZE, Listing, PdsUnavailable, Record, Tokens, XrpcError
from albums_core.domain.records import TRACK, new_tid
from tests.fakes.journal import Faults, Journal

_APPLY = "com.atproto.repo.applyWrites#"


def cid_of(value: dict[str, Any]) -> str:
    """The record's CID as a PDS computes it (DAG-CBOR, sha2-256, CIDv1): the write side checks
    the CIDs it computes against the ones the PDS returns."""
    return record_cid(value)


def unavailable() -> BaseException:
    return PdsUnavailable("connection refused")


def refused(error: str = "InternalServerError") -> Callable[[], BaseException]:
    return lambda: XrpcError(400, error, "refused by the fake")


def _failed() -> PdsUnavailable:
    """How the PDS answers a write over a record that is there (create) or not (update, delete):
    a 500, all of the call refused (tests/integration/test_contract_pds.py)."""
    return PdsUnavailable("status 500", answered=True)


class FakePds:
    """One DID's records. `applyWrites` is atomic and swap-guarded by the repository commit,
    as on a PDS; `faults` raises the XRPC client's exceptions from chosen calls and `before_write`
    runs just before each `applyWrites` (another client writing in between)."""

    def __init__(self, did: str, journal: Journal | None = None, pds_url: str = "https://pds.example") -> None:
        self.did = did
        self.pds_url = pds_url
        self.tokens = Tokens("access", "refresh")
        self.session_key = ""
        self.journal = journal or Journal()
        self.faults = Faults()
        self.before_write: Callable[[], None] | None = None
        self.records: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.calls: list[str] = []
        self._commits = itertools.count(1)
        self.commit = self._next_commit()

    def _next_commit(self) -> str:
        return f"bafycommit{next(self._commits):06d}"

    def _call(self, name: str) -> None:
        self.calls.append(name)
        self.faults.check(name)

    def uri(self, collection: str, rkey: str) -> str:
        return f"at://{self.did}/{collection}/{rkey}"

    # ---- the port ---------------------------------------------------------------------------

    def get_record(self, collection: str, rkey: str) -> Record | None:
        self._call("get_record")
        found = self.records.get((collection, rkey))
        if found is None:
            return None
        cid, value = found
        return Record(self.uri(collection, rkey), cid, copy.deepcopy(value))

    def list_records(self, collection: str, *, max_pages: int, cursor: str | None = None) -> Listing:
        """Pages of 100, newest record key first as a PDS lists them, each page one call
        (`list_records` in `calls`); the cursor is the last key listed."""
        keys = sorted((k for c, k in self.records if c == collection and (cursor is None or k < cursor)), reverse=True)
        out = Listing(cursor=cursor)
        for _ in range(max_pages):
            self._call("list_records")
            out.pages += 1
            page, keys = keys[:PAGE_SIZE], keys[PAGE_SIZE:]
            for rkey in page:
                value_cid, value = self.records[(collection, rkey)]
                out.records.append(Record(self.uri(collection, rkey), value_cid, copy.deepcopy(value)))
            if not page:
                out.cursor, out.complete = None, True
                return out
            out.cursor = page[-1]
        out.stopped = "pages"
        return out

    def create_record(self, collection: str, record: dict[str, Any], rkey: str | None = None) -> tuple[str, str]:
        self._call("create_record")
        key = (collection, rkey or new_tid())
        if key in self.records:
            raise _failed()
        cid = cid_of(record)
        self.records[key] = (cid, copy.deepcopy(record))
        self.commit = self._next_commit()
        self.journal.add("pds", f"create {collection}")
        return self.uri(*key), cid

    def apply_writes(self, writes: list[dict[str, Any]], swap_commit: str | None) -> dict[str, Any]:
        self._call("apply_writes")
        if self.before_write is not None:
            self.before_write()
        if swap_commit is not None and swap_commit != self.commit:
            raise XrpcError(400, "InvalidSwap", "commit was not the head")
        staged = dict(self.records)
        results: list[dict[str, Any]] = []
        for write in writes:
            kind = str(write["$type"]).removeprefix(_APPLY)
            key = (str(write["collection"]), str(write.get("rkey") or new_tid()))
            if kind == "delete":
                if key not in staged:
                    raise _failed()
                del staged[key]
                results.append({"$type": f"{_APPLY}deleteResult"})
                continue
            if (kind == "update" and key not in staged) or (kind == "create" and key in staged):
                raise _failed()
            value = copy.deepcopy(write["value"])
            staged[key] = (cid_of(value), value)
            results.append({"$type": f"{_APPLY}{kind}Result", "uri": self.uri(*key), "cid": staged[key][0]})
        self.records = staged
        self.commit = self._next_commit()
        self.journal.add("pds", f"applyWrites x{len(writes)}")
        return {"commit": {"cid": self.commit, "rev": self.commit}, "results": results}

    def latest_commit(self) -> str:
        self._call("latest_commit")
        return self.commit

    # ---- for tests --------------------------------------------------------------------------

    def put(self, collection: str, value: dict[str, Any], rkey: str | None = None) -> str:
        """A record written by another client (no journal entry); its URI."""
        key = (collection, rkey or new_tid())
        self.records[key] = (cid_of(value), copy.deepcopy(value))
        self.commit = self._next_commit()
        return self.uri(*key)

    def publish_track(self, title: str, **fields: Any) -> str:
        value = {
            "$type": TRACK,
            "title": title,
            "artist": "Fake Artist",
            "fileType": "mp3",
            "createdAt": "2026-01-01T00:00:00.000Z",
            **fields,
        }
        return self.put(TRACK, value)

    def value(self, uri: str) -> dict[str, Any] | None:
        collection, rkey = uri.split("/")[-2:]
        found = self.records.get((collection, rkey))
        return copy.deepcopy(found[1]) if found else None

    def cid(self, uri: str) -> str | None:
        collection, rkey = uri.split("/")[-2:]
        found = self.records.get((collection, rkey))
        return found[0] if found else None
