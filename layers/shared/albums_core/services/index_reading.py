"""What an indexing run reads (services/index_run.py): a collection of the artist's repository
listed from where the indexing stopped, within the run's budget and the settings' caps, and
where the next run of the indexing goes on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from albums_core.config import settings
from albums_core.domain.models import Artist
from albums_core.domain.read_budget import ReadBudget
from albums_core.domain.records import TRACK
from albums_core.domain.sessions import Record
from albums_core.observability import logger
from albums_core.ports import PdsReader

# Jobs one indexing may chain (each continuing where the last stopped) before it gives up.
_MAX_LINKS = 50


@dataclass
class Reading:
    """One collection as a run read it. `whole`: from its start to its end in this run, so a
    record it does not list is gone. `cursor`: where the next run continues (None: the end was
    reached, or the PDS gave no way on). `listed`: records read since the indexing began."""

    records: dict[str, Record] = field(default_factory=dict)
    whole: bool = False
    start: str | None = None
    cursor: str | None = None
    listed: int = 0
    over_cap: bool = False
    skipped: bool = False  # read to its end by an earlier run of this indexing: not read again


def read_collection(
    reader: PdsReader, artist: Artist, collection: str, budget: ReadBudget, resume: dict[str, Any]
) -> Reading:
    """The collection from where this indexing stopped, in listing calls while they end on a
    per-call cap, until its end, PDS_LIST_MAX_RECORDS in all, PDS_LIST_MAX_BYTES this run, or
    the budget."""
    cfg = settings()
    cursors = resume.get("cursors") or {}
    start = cursors.get(collection)
    out = Reading(start=start, cursor=start, listed=int((resume.get("listed") or {}).get(collection, 0)))
    if collection in (resume.get("done") or []):
        out.skipped = True
        return out
    size = 0
    while True:
        left = cfg.pds_list_max_records - out.listed
        if left <= 0:
            out.over_cap, out.cursor = True, None
            return out
        listing = reader.list_records(
            str(artist.pds_url),
            artist.did,
            collection,
            cursor=out.cursor,
            budget=budget,
            max_records=min(cfg.pds_list_records_per_call, left),
            max_bytes=max(1, cfg.pds_list_max_bytes - size),
        )
        for record in listing:
            out.records[record.uri] = record
        out.listed += len(listing)
        size += listing.size
        out.cursor = listing.cursor
        if listing.complete:
            out.whole = start is None
            return out
        if listing.stopped not in ("pages", "records") or size >= cfg.pds_list_max_bytes:
            return out  # the budget, the bytes, or a PDS that gives no way on


def continuation(
    readings: dict[str, Reading], complete: bool, resume: dict[str, Any], did: str
) -> dict[str, Any] | None:
    """What a job needs to go on where a run stopped; None when nothing is left. A run whose
    writes were cut (not `complete`) goes on from where it started reading (writes are
    idempotent)."""
    if not readings:
        return None
    cut = not complete
    if not cut and all(r.cursor is None for r in readings.values()):
        return None
    cursors: dict[str, str] = {}
    listed: dict[str, int] = {}
    done: list[str] = []
    before = resume.get("listed") or {}
    for collection, reading in readings.items():
        if reading.skipped:
            done.append(collection)
            continue
        cursor = reading.start if cut else reading.cursor
        if cursor is not None:
            cursors[collection] = cursor
            listed[collection] = int(before.get(collection, 0)) if cut else reading.listed
        elif collection == TRACK and not cut:
            done.append(collection)  # read to its end in this indexing: not again (lists are)
    links = int(resume.get("links", 0)) + 1
    if links > _MAX_LINKS:
        logger.warning("indexing stopped after its last job", extra={"did": did, "links": links})
        return None
    return {"cursors": cursors, "listed": listed, "done": done, "links": links}
