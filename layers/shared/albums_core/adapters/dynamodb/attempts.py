"""Counters of attempts at stream records, in the cache table (kept two days by its TTL)."""

from __future__ import annotations

import time

from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb import keys
from albums_core.config import settings

_KEPT_SECONDS = 2 * 86400


def count_attempt(event_id: str) -> int:
    """Count one more attempt at the record; returns how many there have been."""
    out = dynamodb().update_item(
        TableName=settings().cache_table,
        Key={"cache_key": {"S": keys.stream_attempt(event_id)}},
        UpdateExpression="ADD attempts :one SET expires_at = :e",
        ExpressionAttributeValues={":one": {"N": "1"}, ":e": {"N": str(int(time.time()) + _KEPT_SECONDS)}},
        ReturnValues="UPDATED_NEW",
    )
    return int(out["Attributes"]["attempts"]["N"])
