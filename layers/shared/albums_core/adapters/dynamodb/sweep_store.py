"""What the scheduled sweep reads and writes in DynamoDB: its own state item (the cursors where
the last run stopped), pages of items whose TTL has passed (DynamoDB removes them late), and
pages of artists not indexed lately. Every page is one bounded Scan."""

from __future__ import annotations

import time
from typing import Any

from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.domain.models import Artist

_BATCH_WRITE_MAX = 25


class SweepStore:
    def __init__(self, catalogue: CatalogueWriter | None = None) -> None:
        self.catalogue = catalogue or CatalogueWriter()

    def load_state(self) -> dict[str, Any]:
        repo = self.catalogue
        out = repo.client.get_item(TableName=repo.table, Key=to_item(keys.sweep_state()), ConsistentRead=True)
        item = out.get("Item")
        if not item:
            return {}
        return {k: v for k, v in from_item(item).items() if k not in ("pk", "sk")}

    def save_state(self, state: dict[str, Any]) -> None:
        repo = self.catalogue
        repo.client.put_item(TableName=repo.table, Item=to_item({**state, **keys.sweep_state()}))

    def delete_expired(
        self, table: str, key: str, now: float, limit: int, cursor: str | None
    ) -> tuple[int, str | None]:
        """Delete one page (at most `limit` scanned) of a TTL table's items expired before
        `now`, whose string key attribute is `key`. Returns how many went and the cursor of
        the next page (None when the scan is through)."""
        params: dict[str, Any] = {
            "TableName": table,
            "Limit": limit,
            "ProjectionExpression": "#k",
            "FilterExpression": "expires_at < :now",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":now": {"N": str(int(now))}},
        }
        if cursor:
            params["ExclusiveStartKey"] = {key: {"S": cursor}}
        out = dynamodb().scan(**params)
        last = out.get("LastEvaluatedKey")
        items = out.get("Items", [])
        for start in range(0, len(items), _BATCH_WRITE_MAX):
            requests = [{"DeleteRequest": {"Key": {key: i[key]}}} for i in items[start : start + _BATCH_WRITE_MAX]]
            pending: dict[str, Any] = {table: requests}
            for attempt in range(5):
                pending = dynamodb().batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(0.05 * 2**attempt)
        return len(items), (last[key]["S"] if last else None)

    def stale_artists(
        self, synced_before: str, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[Artist], dict[str, Any] | None]:
        """One page (at most `limit` items scanned) of the artists whose repository was not
        indexed since `synced_before` (or never); the cursor of the next page."""
        repo = self.catalogue
        params: dict[str, Any] = {
            "TableName": repo.table,
            "Limit": limit,
            "FilterExpression": (
                "begins_with(pk, :a) AND sk = :p AND (attribute_not_exists(synced_at) OR synced_at < :c)"
            ),
            "ExpressionAttributeValues": {
                ":a": to_value(keys.artist_partition("")),
                ":p": to_value(keys.PROFILE),
                ":c": to_value(synced_before),
            },
        }
        if cursor:
            params["ExclusiveStartKey"] = to_item(cursor)
        out = repo.client.scan(**params)
        last = out.get("LastEvaluatedKey")
        artists = [Artist.from_data(from_item(i)) for i in out.get("Items", [])]
        return artists, (from_item(last) if last else None)
