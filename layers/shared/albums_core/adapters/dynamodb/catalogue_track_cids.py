"""Track CIDs after the records' write, in transactions, the artist's track count the bulk
read of records decides by, and the album's tracks as such a write reads them.

Each action SETs `record_cid` alone, on a track that is still where it was read and still holds
the CID read: the counters plays and likes ADD meanwhile are never overwritten (a batch of Puts
would), nor a newer CID an echo stored. TransactWriteItems costs 2 write units per KB of each
item, against 1 for a lone UpdateItem: one call, not 100."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue_tracks import track_key
from albums_core.adapters.dynamodb.codec import to_item, to_value
from albums_core.adapters.dynamodb.table import Action, Table, error_code, refused_positions
from albums_core.domain.errors import ConcurrentUpdate
from albums_core.domain.models import Track

# Attempts at a batch of track CIDs that conflicting transactions keep cancelling.
_CID_ATTEMPTS = 5
# Pages of the artist's track index a count reads at most.
_COUNT_PAGES = 3
# What a rewrite of an album's track records needs of each track: its key, its record and the
# record's CID, and what the album's answer counts and orders by.
WRITE_FIELDS = ("pk", "sk", "id", "artist_did", "album_id", "record_uri", "record_cid", "play_count", "created_at")


class TrackCids:
    def __init__(self, db: Table) -> None:
        self.db = db

    def artist_track_count(self, did: str, up_to: int) -> int:
        """The artist's track items, counted up to `up_to` (a Select=COUNT Query of the artist's
        track index, at most `_COUNT_PAGES` pages; a count cut short is `up_to`)."""
        params: dict[str, Any] = {
            "TableName": self.db.name,
            "IndexName": "gsi2",
            "Select": "COUNT",
            "Limit": up_to,
            "KeyConditionExpression": "gsi2pk = :p AND begins_with(gsi2sk, :s)",
            "ExpressionAttributeValues": {
                ":p": to_value(keys.artist_partition(did)),
                ":s": to_value(keys.TRACK_BY_ARTIST_PREFIX),
            },
        }
        count = 0
        for _ in range(_COUNT_PAGES):
            out = self.db.client.query(**params)
            count += int(out.get("Count", 0))
            if count >= up_to or not out.get("LastEvaluatedKey"):
                return min(count, up_to)
            params.update(ExclusiveStartKey=out["LastEvaluatedKey"], Limit=up_to - count)
        return up_to

    def album_track_refs(self, album_id: str) -> list[Track]:
        """The album's tracks, read consistently, with `WRITE_FIELDS` only (the rest left empty):
        a rename or a reorder reads a fraction of each item (DynamoDB bills the items whole;
        the response, its parsing and moto's serialising shrink)."""
        names = {f"#f{i}": name for i, name in enumerate(WRITE_FIELDS)}
        items = self.db.query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :t)",
            ExpressionAttributeValues={
                ":pk": to_value(keys.album_partition(album_id)),
                ":t": to_value(keys.TRACK_PREFIX),
            },
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
            ConsistentRead=True,
        )
        return [Track.from_data({"title": "", "file_id": "", "file_type": "", **item}) for item in items]

    def set_track_cids(self, tracks: list[Track], cids: dict[str, str | None]) -> None:
        """Record the CIDs the PDS gave the tracks' records after a change: transactions of up to
        100 updates, each whole or not at all. A track moved or gone meanwhile, or whose CID is no
        longer the one read (a newer version stored meanwhile), is left out (the next indexing
        or echo corrects it); a transaction cancelled by a conflicting one is tried again."""
        changed = [(t, cid) for t in tracks if (cid := cids.get(t.record_uri or "")) and cid != t.record_cid]
        size = self.db.max_transaction
        for start in range(0, len(changed), size):
            self._set_cids(changed[start : start + size])

    def _action(self, track: Track, cid: str) -> Action:
        # Only over the CID the mutation read: a newer one a firehose echo stored meanwhile is
        # kept (the action is refused and left out, as for a track that moved).
        values = {":c": to_value(cid)}
        if track.record_cid:
            condition = "record_cid = :read"
            values[":read"] = to_value(track.record_cid)
        else:  # read without one: none stored, or an empty one (a record written without a CID)
            condition = "attribute_exists(pk) AND (attribute_not_exists(record_cid) OR record_cid = :none)"
            values[":none"] = to_value("")
        return {
            "Update": {
                "TableName": self.db.name,
                "Key": to_item(track_key(track)),
                "UpdateExpression": "SET record_cid = :c",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }

    def _set_cids(self, batch: list[tuple[Track, str]]) -> None:
        stalls = 0
        while batch:
            try:
                self.db.transact([self._action(track, cid) for track, cid in batch])
                return
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                refused = refused_positions(exc)
                if refused:  # those tracks moved or went: the others again
                    batch = [pair for i, pair in enumerate(batch) if i not in refused]
                    continue
                stalls += 1
                if stalls >= _CID_ATTEMPTS:
                    raise ConcurrentUpdate() from exc
                time.sleep(0.05 * 2**stalls)  # a conflicting transaction (TransactionConflict): later
