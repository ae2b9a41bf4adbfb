"""Read-modify-write of ATProto records in batches.

Each record is read, changed by a function that touches only its own field, and written
back with `com.atproto.repo.applyWrites` guarded by `swapCommit` = the repository commit
read before the records: any concurrent change to the repository makes the write fail
as a whole, and the batch is read again and re-applied. Records that already hold the
wanted value are not written, so repeating a half-finished job finishes it.

Strong refs stay true: the CID of every record a batch rewrites is computed here before the
write (record_cids), and every list record of the batch names each record of the batch by
the CID it will have, in the same applyWrites - a list never pins a superseded version. The
CIDs the PDS returns are checked against ours; a mismatch is logged, counted, and the lists
that pinned it are written again with the CIDs read back.
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from albums_core.adapters.atproto.record_cids import NotDataModel, record_cid
from albums_core.adapters.atproto.xrpc import PAGE_SIZE as LIST_PAGE
from albums_core.adapters.atproto.xrpc import Record, XrpcError
from albums_core.domain.at_uri import AtUri
from albums_core.domain.errors import Conflict
from albums_core.domain.record_edits import DELETE, MAX_WRITES, Edit, Sizes, Snapshot, keep
from albums_core.domain.records import pin_strong_refs, strong_ref_uris
from albums_core.observability import logger, metrics
from albums_core.ports import Pds

_ATTEMPTS = 6
_READERS = 8


def _read_each(pds: Pds, uris: list[str]) -> dict[str, Record | None]:
    def one(uri: str) -> tuple[str, Record | None]:
        at = AtUri.parse(uri)
        assert at is not None
        return uri, pds.get_record(at.collection, at.rkey)

    if len(uris) <= 1:
        return dict(one(u) for u in uris)
    with ThreadPoolExecutor(min(_READERS, len(uris))) as pool:
        return dict(pool.map(one, uris))


def _pages(records: int) -> int:
    return max(1, -(-records // LIST_PAGE))


def _read_listed(pds: Pds, collection: str, uris: list[str], known: int) -> dict[str, Record | None]:
    """The records of one collection from its listing, when its pages (`known` records, as the
    catalogue counts them) are fewer calls than one getRecord each. The listing stops once it
    has them all, and is capped below one call per record (a count too low costs nothing
    more); records it did not reach are read one by one, and a record missing from a listing
    that reached the end is missing."""
    if _pages(known) >= len(uris):
        return _read_each(pds, uris)
    wanted: dict[str, str] = {}
    for uri in uris:
        at = AtUri.parse(uri)
        assert at is not None
        wanted[at.rkey] = uri
    out: dict[str, Record | None] = {}
    cursor: str | None = None
    for _ in range(min(_pages(known) + 1, len(uris) - 1)):
        page = pds.list_records(collection, max_pages=1, cursor=cursor)
        for record in page:
            at = AtUri.parse(record.uri)
            if at is not None and (asked := wanted.get(at.rkey)) is not None:
                # A listed record is as good as one read alone: its value whole, its CID.
                out[asked] = Record(asked, record.cid, record.value)
        if page.complete:
            out.update({u: None for u in uris if u not in out})
        cursor = page.cursor
        if len(out) == len(uris) or cursor is None:
            break
    out.update(_read_each(pds, [u for u in uris if u not in out]))
    return out


def read_records(pds: Pds, uris: list[str], sizes: Sizes | None = None) -> dict[str, Record | None]:
    """The records (None when missing). `sizes` (records per collection of the repository, as
    the catalogue knows them) lets a collection be read by listRecords pages instead of one
    getRecord per record, whichever makes fewer calls."""
    groups: dict[str, list[str]] = {}
    for uri in uris:
        at = AtUri.parse(uri)
        assert at is not None
        groups.setdefault(at.collection if sizes and at.collection in sizes else "", []).append(uri)
    out: dict[str, Record | None] = {}
    for collection, members in groups.items():
        if collection and sizes:
            out.update(_read_listed(pds, collection, members, sizes[collection]))
        else:
            out.update(_read_each(pds, members))
    return {u: out[u] for u in uris}


def read_snapshot(pds: Pds, uris: list[str], sizes: Sizes | None = None) -> Snapshot:
    commit = pds.latest_commit()
    return Snapshot(commit, read_records(pds, uris, sizes))


@dataclass
class _Write:
    uri: str
    op: dict[str, Any]
    cid: str | None  # computed here; None for a delete, or a value we cannot compute


def _local_cid(uri: str, value: dict[str, Any]) -> str | None:
    try:
        return record_cid(value)
    except NotDataModel as exc:
        logger.warning("record CID not computable here", extra={"uri": uri, "reason": str(exc)})
        return None


def _op(uri: str, kind: str, value: dict[str, Any] | None = None) -> dict[str, Any]:
    at = AtUri.parse(uri)
    assert at is not None
    op: dict[str, Any] = {"$type": f"com.atproto.repo.applyWrites#{kind}", "collection": at.collection, "rkey": at.rkey}
    if value is not None:
        op["value"] = value
    return op


def _plan(edits: list[Edit], records: dict[str, Record | None]) -> list[_Write]:
    """The writes of a batch, in the order of its edits: each update with the CID it will have,
    the strong refs of its values pinned to the CIDs the batch gives the records they name."""
    cids: dict[str, str | None] = {u: (r.cid if r else None) for u, r in records.items()}
    values: dict[str, dict[str, Any]] = {}
    deleted: set[str] = set()
    for edit in edits:
        record = records[edit.uri]
        if record is None:
            continue
        new = edit.change(copy.deepcopy(record.value))
        if new is DELETE:
            deleted.add(edit.uri)
            cids[edit.uri] = None
        elif new is not None and new != record.value:
            values[edit.uri] = new
            cids[edit.uri] = _local_cid(edit.uri, new)
        else:
            values[edit.uri] = copy.deepcopy(record.value)  # unchanged unless a strong ref moves
    plan: list[_Write] = []
    for edit in edits:
        record = records[edit.uri]
        if record is None:
            continue
        if edit.uri in deleted:
            plan.append(_Write(edit.uri, _op(edit.uri, "delete"), None))
            continue
        value = values[edit.uri]
        # A record whose new CID is unknown pins nothing here: the check after the write does.
        if pin_strong_refs(value, {u: c for u, c in cids.items() if c and u != edit.uri}):
            cids[edit.uri] = _local_cid(edit.uri, value)
        if value != record.value:
            plan.append(_Write(edit.uri, _op(edit.uri, "update", value), cids[edit.uri]))
    return plan


def _pinning(plan: list[_Write], uris: set[str]) -> list[str]:
    """The records of `plan` whose written value names one of `uris` by a strong ref."""
    out = []
    for write in plan:
        value = write.op.get("value")
        if isinstance(value, dict) and uris & set(strong_ref_uris(value)):
            out.append(write.uri)
    return out


def apply_edits(
    pds: Pds, edits: list[Edit], snapshot: Snapshot | None = None, sizes: Sizes | None = None
) -> dict[str, str | None]:
    """Apply every edit; returns the record CIDs afterwards (None for deleted or missing
    records). Raises PdsUnavailable / XrpcError when the PDS fails, Conflict when the
    repository keeps changing under us."""
    return {u: (r.cid if r else None) for u, r in write_records(pds, edits, snapshot, sizes=sizes).items()}


def write_records(
    pds: Pds,
    edits: list[Edit],
    snapshot: Snapshot | None = None,
    *,
    verify: bool = True,
    sizes: Sizes | None = None,
) -> dict[str, Record | None]:
    """`apply_edits`, returning each record as it now stands on the PDS (its value as written,
    its new CID; None when deleted or missing). With a `snapshot`, the first attempt reads only
    the records it does not hold; a swap failure reads everything again."""
    uris = [e.uri for e in edits]
    for _ in range(_ATTEMPTS):
        if snapshot is not None:
            commit = snapshot.commit
            records = {u: snapshot.records[u] for u in uris if u in snapshot.records}
            missing = [u for u in uris if u not in records]
            records.update(read_records(pds, missing, sizes))
        else:
            commit = pds.latest_commit()
            records = read_records(pds, uris, sizes)
        snapshot = None  # a retry reads again: the repository changed since
        plan = _plan(edits, records)
        try:
            after, wrong = _apply(pds, plan, records, commit)
        except XrpcError as exc:
            if exc.error != "InvalidSwap":
                raise
            continue
        stale = _pinning(plan, wrong)
        if wrong:
            metrics.add_metric(name="RecordCidMismatch", unit=MetricUnit.Count, value=len(wrong))
            logger.warning(
                "a record's CID differs from the one computed here",
                extra={"records": sorted(wrong)[:20], "lists": stale[:20]},
            )
            if stale and verify:
                # Read back: the lists are pinned again to the CIDs the PDS gave.
                fixed = write_records(
                    pds, [Edit(u, keep) for u in sorted(wrong)] + [Edit(u, keep) for u in stale], verify=False
                )
                after.update({u: fixed[u] for u in stale})
        return after
    raise Conflict("the album's records kept changing on the PDS; try again")


def _apply(
    pds: Pds, plan: list[_Write], records: dict[str, Record | None], commit: str
) -> tuple[dict[str, Record | None], set[str]]:
    """Write `plan` in chunks the PDS accepts, each swapping on the commit the last left; the
    records afterwards, and the updates whose CID is not the one computed (or not computed)."""
    after: dict[str, Record | None] = dict(records)
    wrong: set[str] = set()
    unknown: list[str] = []
    for start in range(0, len(plan), MAX_WRITES):
        chunk = plan[start : start + MAX_WRITES]
        out = pds.apply_writes([w.op for w in chunk], swap_commit=commit)
        commit = str((out.get("commit") or {}).get("cid") or pds.latest_commit())
        results = out.get("results") or []
        for i, write in enumerate(chunk):
            if write.op["$type"].endswith("#delete"):
                after[write.uri] = None
                continue
            result = results[i] if i < len(results) and isinstance(results[i], dict) else {}
            cid = result.get("cid")
            if isinstance(cid, str) and cid:
                after[write.uri] = Record(write.uri, cid, write.op["value"])
                if cid != write.cid:
                    wrong.add(write.uri)
            else:
                unknown.append(write.uri)  # unknown until read again
    if unknown:
        after.update(read_records(pds, unknown))
        wrong.update(u for u in unknown if (r := after[u]) is None or r.cid != next(w.cid for w in plan if w.uri == u))
    return after, wrong
