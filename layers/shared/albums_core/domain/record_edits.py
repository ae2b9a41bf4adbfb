"""An edit of a record on a PDS, as the services ask for it: the record's URI and a change,
a function from the record's current value to its new value, `keep` (read it, write nothing)
or `DELETE`. adapters/atproto/record_writes.py applies a batch of them read-modify-write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from albums_core.domain.sessions import Record

DELETE = object()  # returned by a change function: delete the record
# The PDS accepts at most 200 writes in one applyWrites call.
MAX_WRITES = 200

Change = Callable[[dict[str, Any]], Any]
# Records asked for per listRecords page (the lexicon's maximum).
PAGE_SIZE = 100
# Records per collection of the repository (the catalogue's count): how a batch reads them.
Sizes = dict[str, int]


def keep(record: dict[str, Any]) -> dict[str, Any]:
    """The change that changes nothing: the record is read (its current CID pins the lists of
    the batch) and not written."""
    return record


@dataclass(frozen=True)
class Edit:
    uri: str
    change: Change


@dataclass(frozen=True)
class Snapshot:
    """Records already read by the caller, and the repository commit read before them: the
    first attempt writes from these instead of reading every record again (records of the
    batch it does not hold are read then)."""

    commit: str
    records: dict[str, Record | None]
