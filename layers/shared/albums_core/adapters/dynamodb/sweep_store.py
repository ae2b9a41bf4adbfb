"""What the scheduled sweep reads and writes in DynamoDB: its own state item (the cursors where
the last run stopped), pages of items whose TTL has passed (DynamoDB removes them late), and
pages of artists not indexed lately. Every page is one bounded Scan."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.adapters.dynamodb.table import Table
from albums_core.domain.models import Artist

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import ScanInputTypeDef


class SweepStore:
    def __init__(self, catalogue: CatalogueWriter | None = None) -> None:
        self.catalogue = catalogue or CatalogueWriter()
        self.db = self.catalogue.db

    def load_state(self) -> dict[str, Any]:
        item = self.db.get(keys.sweep_state(), consistent=True)
        if not item:
            return {}
        return {k: v for k, v in item.items() if k not in ("pk", "sk")}

    def save_state(self, state: dict[str, Any]) -> None:
        self.db.client.put_item(TableName=self.db.name, Item=to_item({**state, **keys.sweep_state()}))

    def delete_expired(
        self, table: str, key: str, now: float, limit: int, cursor: str | None
    ) -> tuple[int, str | None]:
        """Delete one page (at most `limit` scanned) of a TTL table's items expired before
        `now`, whose string key attribute is `key`. Returns how many went and the cursor of
        the next page (None when the scan is through); RetriesExhausted when DynamoDB keeps
        deletes unprocessed (the cursor is then not moved: the next run deletes them)."""
        params: ScanInputTypeDef = {
            "TableName": table,
            "Limit": limit,
            "ProjectionExpression": "#k",
            "FilterExpression": "expires_at < :now",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":now": {"N": str(int(now))}},
        }
        if cursor:
            params["ExclusiveStartKey"] = {key: {"S": cursor}}
        swept = Table(table)
        out = swept.client.scan(**params)
        last = out.get("LastEvaluatedKey")
        items = out.get("Items", [])
        swept.batch_write([{"DeleteRequest": {"Key": {key: i[key]}}} for i in items])
        return len(items), (str(last[key]["S"]) if last else None)

    def stale_artists(
        self, synced_before: str, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[Artist], dict[str, Any] | None]:
        """One page (at most `limit` items scanned) of the artists whose repository was not
        indexed since `synced_before` (or never); the cursor of the next page."""
        params: ScanInputTypeDef = {
            "TableName": self.db.name,
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
        out = self.db.client.scan(**params)
        last = out.get("LastEvaluatedKey")
        artists = [Artist.from_data(from_item(i)) for i in out.get("Items", [])]
        return artists, (from_item(last) if last else None)
