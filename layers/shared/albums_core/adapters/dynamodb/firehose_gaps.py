"""DynamoDB adapter of the firehose consumer's gaps: when the relay says our cursor is older than
what it keeps (#info OutdatedCursor), the events in between are lost and every artist we hold is
re-read. The gap is recorded on the consumer's lease item (one per relay), with the progress of
the re-read (the page of artists where it stands), so a run that ends in the middle of it is
finished by the next one. Writes are conditional on the lease holder, like the checkpoint's."""

from __future__ import annotations

from typing import Any

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue_store import CatalogueStore
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.domain.firehose_events import GAP_DONE, GAP_PENDING, Gap
from albums_core.domain.models import Artist

PENDING = GAP_PENDING
DONE = GAP_DONE
__all__ = ["DONE", "PENDING", "FirehoseGaps", "Gap"]


class FirehoseGaps(CatalogueStore):
    def open(self, source: str, holder: str, gap_id: str, cursor: int | None, at: str) -> bool:
        """Record the gap `gap_id` (one per run), seen while `holder` holds the lease, with its
        re-read to do from the first artist. False when this gap is recorded already (a second
        OutdatedCursor of the same run: nothing more was lost that the re-read will not read)
        or when the lease is no longer `holder`'s."""
        values: dict[str, Any] = {":h": holder, ":g": gap_id, ":at": at, ":s": PENDING, ":zero": 0}
        expression = "SET gap_id = :g, gap_at = :at, gap_status = :s, gap_enqueued = :zero"
        if cursor is not None:
            expression += ", gap_cursor = :c"
            values[":c"] = cursor
        expression += " REMOVE gap_after, gap_done_at" + ("" if cursor is not None else ", gap_cursor")
        condition = "holder = :h AND (attribute_not_exists(gap_id) OR gap_id <> :g)"
        return self.repo.update_if(keys.firehose_lease(source), expression, condition, values) is not None

    def current(self, source: str) -> Gap | None:
        """The last gap recorded for this relay (pending or done), None when there was none."""
        out = self.client.get_item(TableName=self.table, Key=to_item(keys.firehose_lease(source)), ConsistentRead=True)
        item = from_item(out["Item"]) if "Item" in out else {}
        if not item.get("gap_id"):
            return None
        cursor = item.get("gap_cursor")
        return Gap(
            gap_id=str(item["gap_id"]),
            at=str(item.get("gap_at", "")),
            cursor=int(cursor) if cursor is not None else None,
            status=str(item.get("gap_status", PENDING)),
            after=item.get("gap_after") or None,
            enqueued=int(item.get("gap_enqueued") or 0),
        )

    def advance(
        self, source: str, holder: str, gap_id: str, after: dict[str, Any] | None, enqueued: int, at: str
    ) -> bool:
        """Store the re-read's progress: the next page starts `after` (None: the re-read is done);
        `enqueued` jobs so far. Only while the lease is `holder`'s and the gap is still `gap_id`
        (a newer gap restarts the re-read from the first artist)."""
        values: dict[str, Any] = {":h": holder, ":g": gap_id, ":n": enqueued}
        if after is not None:
            expression = "SET gap_after = :a, gap_enqueued = :n"
            values[":a"] = after
        else:
            expression = "SET gap_status = :done, gap_done_at = :at, gap_enqueued = :n REMOVE gap_after"
            values[":done"] = DONE
            values[":at"] = at
        condition = "holder = :h AND gap_id = :g"
        return self.repo.update_if(keys.firehose_lease(source), expression, condition, values) is not None

    def artists_page(
        self, limit: int, after: dict[str, Any] | None
    ) -> tuple[list[Artist], list[str], dict[str, Any] | None]:
        """One page (at most `limit` items scanned) of the artists the catalogue holds and of the
        likers it holds like records of (each liker once per page; a liker may come again on
        a later page), and where the next page starts (None after the last). Neither has an
        index of its own: a bounded Scan filtered on the profile items and the like records."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "Limit": limit,
            "FilterExpression": "(begins_with(pk, :a) AND sk = :p) OR begins_with(sk, :l)",
            "ExpressionAttributeValues": {
                ":a": to_value(keys.artist_partition("")),
                ":p": to_value(keys.PROFILE),
                ":l": to_value(keys.LIKE_RECORD_PREFIX),
            },
        }
        if after:
            params["ExclusiveStartKey"] = to_item(after)
        out = self.client.scan(**params)
        last = out.get("LastEvaluatedKey")
        artists: list[Artist] = []
        likers: dict[str, None] = {}
        for item in out.get("Items", []):
            data = from_item(item)
            if data["sk"] == keys.PROFILE:
                artists.append(Artist.from_data(data))
            else:
                likers[str(data["pk"]).removeprefix(keys.USER_PREFIX)] = None
        return artists, list(likers), (from_item(last) if last else None)
