"""The scheduled sweep: what TTLs and triggers leave behind. Covers nothing refers to (older
than a day), abandoned uploads, expired cache and session items DynamoDB has not removed
yet, and artists not indexed for a while. Bounded work per run; where a run stops, the
next one goes on (its cursors are kept in a state item). `now` is injectable for tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from albums_core.adapters.aws_clients import client
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.config import settings
from albums_core.domain.models import Artist
from albums_core.observability import logger
from albums_core.services.covers import UPLOAD_PREFIX, bucket, is_referenced
from albums_core.services.indexer import sync_artist

STATE = {"pk": "SWEEP", "sk": "STATE"}


def _stamp(moment: datetime) -> str:
    """The format of every timestamp we store (records.now_iso), so strings compare in order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


GRACE = timedelta(days=1)
_IMAGE_KEY = re.compile(r"^images/([0-9a-f]{32})[.-]")


class Sweep:
    def __init__(self, now: datetime, budget: int = 500, repo: CatalogueWriter | None = None) -> None:
        self.now = now
        self.budget = budget
        self.repo = repo or CatalogueWriter()
        self.report: dict[str, int] = {
            "covers_deleted": 0,
            "uploads_deleted": 0,
            "cache_items_deleted": 0,
            "sessions_deleted": 0,
            "artists_resynced": 0,
        }
        item = self.repo.client.get_item(TableName=self.repo.table, Key=to_item(STATE), ConsistentRead=True).get("Item")
        self.state: dict[str, Any] = from_item(item) if item else {}

    def _save(self) -> None:
        self.repo.client.put_item(TableName=self.repo.table, Item=to_item({**self.state, **STATE}))

    # ---- S3 -------------------------------------------------------------------------------

    def _objects(self, prefix: str, cursor_name: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"Bucket": bucket(), "Prefix": prefix, "MaxKeys": self.budget}
        if self.state.get(cursor_name):
            params["ContinuationToken"] = self.state[cursor_name]
        out = client("s3").list_objects_v2(**params)
        self.state[cursor_name] = out.get("NextContinuationToken") if out.get("IsTruncated") else None
        return list(out.get("Contents", []))

    def covers(self) -> None:
        stale = self.now - GRACE
        doomed: list[dict[str, str]] = []
        checked: dict[str, bool] = {}
        for obj in self._objects("images/", "covers_cursor"):
            match = _IMAGE_KEY.match(obj["Key"])
            if not match or obj["LastModified"] > stale:
                continue
            image_id = match.group(1)
            if image_id not in checked:
                checked[image_id] = is_referenced(image_id, self.repo)
            if not checked[image_id]:
                doomed.append({"Key": obj["Key"]})
        self._delete_objects(doomed, "covers_deleted")

    def uploads(self) -> None:
        stale = self.now - GRACE
        doomed = [
            {"Key": o["Key"]} for o in self._objects(UPLOAD_PREFIX, "uploads_cursor") if o["LastModified"] <= stale
        ]
        self._delete_objects(doomed, "uploads_deleted")

    def _delete_objects(self, objects: list[dict[str, str]], counter: str) -> None:
        for start in range(0, len(objects), 1000):
            client("s3").delete_objects(
                Bucket=bucket(), Delete={"Objects": objects[start : start + 1000], "Quiet": True}
            )
        self.report[counter] += len(objects)

    # ---- DynamoDB TTL stragglers ------------------------------------------------------------

    def expired(self, table: str, key: str, cursor_name: str, counter: str) -> None:
        params: dict[str, Any] = {
            "TableName": table,
            "Limit": self.budget,
            "ProjectionExpression": "#k",
            "FilterExpression": "expires_at < :now",
            "ExpressionAttributeNames": {"#k": key},
            "ExpressionAttributeValues": {":now": {"N": str(int(self.now.timestamp()))}},
        }
        if self.state.get(cursor_name):
            params["ExclusiveStartKey"] = {key: {"S": self.state[cursor_name]}}
        out = client("dynamodb").scan(**params)
        last = out.get("LastEvaluatedKey")
        self.state[cursor_name] = last[key]["S"] if last else None
        items = out.get("Items", [])
        for start in range(0, len(items), 25):
            client("dynamodb").batch_write_item(
                RequestItems={table: [{"DeleteRequest": {"Key": {key: i[key]}}} for i in items[start : start + 25]]}
            )
        self.report[counter] += len(items)

    # ---- re-indexing ------------------------------------------------------------------------

    def resync(self, limit: int = 5) -> None:
        cutoff = _stamp(self.now - timedelta(seconds=settings().resync_after_seconds))
        params: dict[str, Any] = {
            "TableName": self.repo.table,
            "Limit": self.budget,
            "FilterExpression": (
                "begins_with(pk, :a) AND sk = :p AND (attribute_not_exists(synced_at) OR synced_at < :c)"
            ),
            "ExpressionAttributeValues": {
                ":a": to_value("ARTIST#"),
                ":p": to_value(keys.PROFILE),
                ":c": to_value(cutoff),
            },
        }
        if self.state.get("artists_cursor"):
            params["ExclusiveStartKey"] = to_item(self.state["artists_cursor"])
        out = self.repo.client.scan(**params)
        last = out.get("LastEvaluatedKey")
        self.state["artists_cursor"] = from_item(last) if last else None
        for item in [from_item(i) for i in out.get("Items", [])][:limit]:
            artist = Artist.from_data(item)
            if not artist.pds_url:
                continue
            try:
                sync_artist(artist, self.repo)
            except Exception:  # noqa: BLE001 - one artist's PDS being down does not stop the sweep
                logger.warning("re-indexing failed", extra={"did": artist.did}, exc_info=True)
                continue
            self.repo.client.update_item(
                TableName=self.repo.table,
                Key=to_item(keys.artist(artist.did)),
                UpdateExpression="SET synced_at = :n",
                ExpressionAttributeValues={":n": to_value(self.now.isoformat())},
            )
            self.report["artists_resynced"] += 1

    def run(self) -> dict[str, int]:
        cfg = settings()
        self.covers()
        self.uploads()
        self.expired(cfg.cache_table, "cache_key", "cache_cursor", "cache_items_deleted")
        self.expired(cfg.sessions_table, "session_key", "sessions_cursor", "sessions_deleted")
        self.resync()
        self._save()
        return self.report


def run_sweep(now: datetime | None = None, budget: int = 500) -> dict[str, int]:
    return Sweep(now or datetime.now(UTC), budget).run()
