"""What the Subsonic API keeps beside the catalogue: in the cache table, short-lived, the
listing's cursor where each album-list offset begins (paging forward costs the same at any
offset), the whole catalogue's album ids in a list type's order, and each counted play (a day);
in the catalogue, the play counters a scrobble moves."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.adapters.dynamodb.table import error_code, refused_positions
from albums_core.config import settings
from albums_core.domain.errors import ConcurrentUpdate
from albums_core.domain.models import Album, Track

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

CURSOR_SECONDS = 600
ORDER_SECONDS = 60
WHERE_SECONDS = 86_400
SCROBBLE_SECONDS = 86_400
# Tries of a play's counters that conflicting transactions keep cancelling.
_PLAY_ATTEMPTS = 6
_SNAPSHOT_FIELDS = "pk, sk, gsi1pk, gsi1sk, id, artist_did, slug, title, total_plays, track_count"


class SubsonicStore:
    def __init__(self, client: DynamoDBClient | None = None, catalogue_table: str | None = None) -> None:
        self._client = client
        self.cache_table = settings().cache_table
        self.catalogue_table = catalogue_table or settings().catalogue_table

    @property
    def client(self) -> DynamoDBClient:
        return self._client or dynamodb()

    # ---- short-lived entries of the cache table -------------------------------------------

    def _get(self, key: str) -> Any:
        item = self.client.get_item(TableName=self.cache_table, Key={"cache_key": {"S": key}}).get("Item")
        if not item or int(item.get("expires_at", {}).get("N", "0")) <= time.time() or "value" not in item:
            return None
        return json.loads(item["value"]["S"])

    def _put(self, key: str, value: Any, seconds: int) -> None:
        self.client.put_item(
            TableName=self.cache_table,
            Item={
                "cache_key": {"S": key},
                "value": {"S": json.dumps(value, separators=(",", ":"))},
                "expires_at": {"N": str(int(time.time()) + seconds)},
            },
        )

    def offset_cursors(self, list_type: str, offsets: list[int]) -> dict[int, dict[str, str]]:
        """The cursors kept for these offsets (one BatchGetItem)."""
        wanted = {keys.subsonic_offset(list_type, o): o for o in offsets}
        out = self.client.batch_get_item(
            RequestItems={self.cache_table: {"Keys": [{"cache_key": {"S": k}} for k in wanted]}}
        )
        found: dict[int, dict[str, str]] = {}
        for item in out.get("Responses", {}).get(self.cache_table, []):
            if int(item.get("expires_at", {}).get("N", "0")) <= time.time() or "value" not in item:
                continue
            value = json.loads(item["value"]["S"])
            if isinstance(value, dict):
                found[wanted[item["cache_key"]["S"]]] = value
        return found

    def keep_cursor(self, list_type: str, offset: int, cursor: dict[str, str]) -> None:
        self._put(keys.subsonic_offset(list_type, offset), cursor, CURSOR_SECONDS)

    def album_where(self, album_id: str) -> tuple[str, str] | None:
        value = self._get(keys.subsonic_album(album_id))
        return (str(value[0]), str(value[1])) if isinstance(value, list) and len(value) == 2 else None

    def keep_album_where(self, album_id: str, handle: str, slug: str) -> None:
        self._put(keys.subsonic_album(album_id), [handle, slug], WHERE_SECONDS)

    def order(self, list_type: str) -> list[str] | None:
        value = self._get(keys.subsonic_order(list_type))
        return [str(v) for v in value] if isinstance(value, list) else None

    def keep_order(self, list_type: str, ids: list[str]) -> None:
        self._put(keys.subsonic_order(list_type), ids, ORDER_SECONDS)

    def albums(self, ids: list[str]) -> dict[str, Album]:
        """Album items by id (BatchGetItem, 100 a call)."""
        from albums_core.adapters.dynamodb.catalogue import CatalogueRepository

        items = CatalogueRepository(self.catalogue_table, self._client).batch_get([keys.album(i) for i in ids])
        return {str(i["id"]): Album.from_data(i) for i in items}

    def track(self, track_id: int) -> Track | None:
        """A track by its id, wherever its item lives (the track index: one Query)."""
        out = self.client.query(
            TableName=self.catalogue_table,
            IndexName="gsi3",
            KeyConditionExpression="gsi3pk = :p",
            ExpressionAttributeValues={":p": to_value(keys.track_lookup(track_id))},
        )
        items = out.get("Items", [])
        return Track.from_data(from_item(items[0])) if items else None

    # ---- the listing index -----------------------------------------------------------------

    def _listed(self, **extra: Any) -> Any:
        params: dict[str, Any] = {
            "TableName": self.catalogue_table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": to_value(keys.LISTED)},
            **extra,
        }
        while True:
            out = self.client.query(**params)
            yield from (from_item(i) for i in out.get("Items", []))
            if not out.get("LastEvaluatedKey"):
                return
            params["ExclusiveStartKey"] = out["LastEvaluatedKey"]

    def listed_snapshot(self) -> list[Album]:
        """Every listed album (the index's fields): what the list types other than by name order."""
        return [Album.from_data(i) for i in self._listed(ProjectionExpression=_SNAPSHOT_FIELDS)]

    def cursor_at(self, offset: int) -> dict[str, str] | None:
        """The listing's cursor after its first `offset` albums (keys only), or None past its end:
        for a client that jumps to an offset no page ended at."""
        for seen, item in enumerate(self._listed(ProjectionExpression="pk, sk, gsi1pk, gsi1sk"), start=1):
            if seen == offset:
                return {k: item[k] for k in ("pk", "sk", "gsi1pk", "gsi1sk")}
        return None

    # ---- plays -------------------------------------------------------------------------------

    def count_play(self, user_did: str, track: Track, second: int) -> bool:
        """One play of `track` by `user_did` at `second`, counted once (False for a repeat):
        the track's play_count and its album's total_plays."""
        now = int(time.time())
        try:
            self.client.put_item(
                TableName=self.cache_table,
                Item={
                    "cache_key": {"S": keys.scrobble(user_did, track.id, second)},
                    "expires_at": {"N": str(now + SCROBBLE_SECONDS)},
                },
                ConditionExpression="attribute_not_exists(cache_key) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        track_key = (
            keys.album_track(track.album_id, track.id)
            if track.album_id
            else keys.standalone_track(track.artist_did, track.id)
        )
        actions: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self.catalogue_table,
                    "Key": to_item(track_key),
                    "UpdateExpression": "ADD play_count :one",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ]
        if track.album_id:
            actions.append(
                {
                    "Update": {
                        "TableName": self.catalogue_table,
                        "Key": to_item(keys.album(track.album_id)),
                        "UpdateExpression": "ADD total_plays :one",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            )
        return self._add_play(actions, keys.scrobble(user_did, track.id, second))

    def _add_play(self, actions: list[TransactWriteItemTypeDef], marker: str) -> bool:
        """The counters' transaction. Cancelled by a conflicting transaction (a batch of track
        CIDs, another play), it is tried again: a play is never dropped for a collision. Each
        try has its own token, so botocore's retry of a timed-out call cannot count it twice."""
        for attempt in range(_PLAY_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=actions, ClientRequestToken=uuid.uuid4().hex)
                return True
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                if refused_positions(exc):
                    return False  # the track moved or went meanwhile: the play is lost, never half-counted
                time.sleep(0.02 * 2**attempt)
        # Still colliding: the play is not counted, and its marker goes so that the client's
        # retry counts it.
        self.client.delete_item(TableName=self.cache_table, Key={"cache_key": {"S": marker}})
        raise ConcurrentUpdate()
