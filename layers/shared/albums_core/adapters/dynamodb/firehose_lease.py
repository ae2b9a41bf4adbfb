"""DynamoDB adapter of the firehose consumer's lease and cursor checkpoint: one item per relay,
every write conditional on who holds it."""

from __future__ import annotations

import time
from typing import Any

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue_store import CatalogueStore
from albums_core.adapters.dynamodb.codec import from_item, to_item
from albums_core.domain.firehose_events import Lease

__all__ = ["FirehoseLeases", "Lease"]


class FirehoseLeases(CatalogueStore):
    def acquire(self, source: str, holder: str, seconds: float) -> Lease | None:
        """Take the lease when it is free, expired or already ours; None while another holds it."""
        now = time.time()
        self.calls += 1
        item = self.repo.update_if(
            keys.firehose_lease(source),
            "SET holder = :h, lease_until = :u",
            "attribute_not_exists(lease_until) OR lease_until < :now OR holder = :h",
            {":h": holder, ":u": now + seconds, ":now": now},
            returning=True,
        )
        if item is None:
            return None
        cursor = item.get("cursor")
        return Lease(holder, int(cursor) if cursor is not None else None, now + seconds)

    def checkpoint(self, source: str, holder: str, cursor: int | None, seconds: float) -> bool:
        """Renew the lease and store the cursor (the seq of the last event applied), only while
        the lease is still ours: False when another consumer took it over (stop at once)."""
        now = time.time()
        values: dict[str, Any] = {":h": holder, ":u": now + seconds, ":t": now}
        expression = "SET lease_until = :u, checkpointed_at = :t"
        if cursor is not None:
            expression += ", #c = :c"
            values[":c"] = cursor
        else:
            expression += " REMOVE #c"
        self.calls += 1
        written = self.repo.update_if(
            keys.firehose_lease(source), expression, "holder = :h", values, names={"#c": "cursor"}
        )
        return written is not None

    def release(self, source: str, holder: str) -> None:
        """Let the next invocation start at once (the cursor stays)."""
        self.calls += 1
        self.repo.update_if(keys.firehose_lease(source), "REMOVE holder, lease_until", "holder = :h", {":h": holder})

    def rewind(self, source: str, cursor: int | None) -> bool:
        """Set the cursor the next consumer starts from (an operator's replay), only while no
        consumer holds the lease."""
        values: dict[str, Any] = {":now": time.time()}
        if cursor is not None:
            values[":c"] = cursor
        self.calls += 1
        written = self.repo.update_if(
            keys.firehose_lease(source),
            "SET #c = :c" if cursor is not None else "REMOVE #c",
            "attribute_not_exists(lease_until) OR lease_until < :now",
            values,
            names={"#c": "cursor"},
        )
        return written is not None

    def read_lease(self, source: str) -> dict[str, Any] | None:
        out = self.client.get_item(TableName=self.table, Key=to_item(keys.firehose_lease(source)), ConsistentRead=True)
        return from_item(out["Item"]) if "Item" in out else None
