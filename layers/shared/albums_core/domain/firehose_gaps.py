"""A gap in the firehose (the relay no longer keeps the events after our cursor) and how far
the re-read of every artist has got: kept on the consumer's lease item
(adapters/dynamodb/firehose_gaps.py), driven by services/firehose_gap.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PENDING = "pending"
DONE = "done"


@dataclass(frozen=True)
class Gap:
    """A gap of the stream and how far the re-read of every artist has got."""

    gap_id: str
    at: str
    cursor: int | None
    status: str
    after: dict[str, Any] | None  # where the next page of artists starts (None: at the start)
    enqueued: int
