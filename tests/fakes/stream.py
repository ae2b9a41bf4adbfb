"""The catalogue stream's plumbing in memory (`albums_core.ports.StreamPlumbing`): a record
is already decoded here ({"eventID", "eventName", "kind", "new", "old"}, the item images the
adapter reads from a DynamoDB stream record); attempts are counted per event id, as the
adapter's counter item does, and dead letters kept with their reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Change:
    event: str | None
    kind: str
    new: dict[str, Any] | None
    old: dict[str, Any] | None


def stream_record(
    event: str, kind: str, new: dict[str, Any] | None = None, old: dict[str, Any] | None = None, event_id: str = "e1"
) -> dict[str, Any]:
    return {"eventID": event_id, "eventName": event, "kind": kind, "new": new, "old": old}


class FakeStreamPlumbing:
    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.dead_letters: list[tuple[dict[str, Any], str]] = []

    def decode(self, record: dict[str, Any]) -> Change:
        return Change(record.get("eventName"), str(record.get("kind", "other")), record.get("new"), record.get("old"))

    def count_attempt(self, event_id: str) -> int:
        self.attempts[event_id] += 1
        return self.attempts[event_id]

    def dead_letter(self, record: dict[str, Any], reason: str) -> None:
        self.dead_letters.append((record, reason))
