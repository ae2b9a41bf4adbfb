"""The catalogue stream's plumbing as one port (`StreamPlumbing`): records decoded from their
DynamoDB images, failed attempts counted in the cache table, records given up sent to the
dead-letter queue (SQS)."""

from __future__ import annotations

from typing import Any

from albums_core.adapters import sqs_dead_letters
from albums_core.adapters.dynamodb.attempts import count_attempt
from albums_core.adapters.dynamodb.stream_images import ItemChange, item_change


class CatalogueStreamPlumbing:
    def decode(self, record: dict[str, Any]) -> ItemChange:
        return item_change(record)

    def count_attempt(self, event_id: str) -> int:
        return count_attempt(event_id)

    def dead_letter(self, record: dict[str, Any], reason: str) -> None:
        sqs_dead_letters.send(record, reason)
