"""DynamoDB adapter of the firehose consumer's state per repository: the rev applied, whether the
account is hidden (an inactive account leaves the reads by handle and the listing)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue_store import CatalogueStore, raced
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.adapters.dynamodb.page_cache import invalidate_artist_cache
from albums_core.domain.models import Album, Artist


class RepoStates(CatalogueStore):
    def repo_state(self, did: str) -> dict[str, Any]:
        self.calls += 1
        out = self.client.get_item(TableName=self.table, Key=to_item(keys.repo_state(did)), ConsistentRead=True)
        return from_item(out["Item"]) if "Item" in out else {}

    def set_repo_rev(self, did: str, rev: str) -> None:
        """Record the rev applied; never moves it back."""
        self.calls += 1
        self.repo.update_if(keys.repo_state(did), "SET rev = :r", "attribute_not_exists(rev) OR rev < :r", {":r": rev})

    def set_hidden(self, did: str, hidden: bool, status: str | None) -> None:
        self.calls += 1
        if hidden:
            self.client.update_item(
                TableName=self.table,
                Key=to_item(keys.repo_state(did)),
                UpdateExpression="SET #h = :t, account_status = :s",
                ExpressionAttributeNames={"#h": "hidden"},
                ExpressionAttributeValues={":t": to_value(True), ":s": to_value(status or "inactive")},
            )
        else:
            self.client.update_item(
                TableName=self.table,
                Key=to_item(keys.repo_state(did)),
                UpdateExpression="REMOVE #h, account_status",
                ExpressionAttributeNames={"#h": "hidden"},
            )

    # ---- accounts that left ------------------------------------------------------------------

    def hide_artist(self, artist: Artist) -> None:
        """An inactive account leaves the reads by handle: its handle pointer goes (the artist
        item stays; the next login or reactivation writes the pointer again)."""
        self.calls += 1
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=to_item(keys.handle_profile(artist.handle)),
                ConditionExpression="did = :d",
                ExpressionAttributeValues={":d": to_value(artist.did)},
            )
        except ClientError as exc:
            if not raced(exc):
                raise
        invalidate_artist_cache({(artist.did, artist.handle)})

    def unlist_album(self, album_id: str) -> None:
        self.calls += 1
        self.repo.update_if(keys.album(album_id), "REMOVE gsi1pk, gsi1sk", "attribute_exists(pk)")

    def relist_album(self, album: Album) -> None:
        """Back in the listing while it has tracks (the count read now, in the condition)."""
        self.calls += 1
        self.repo.update_if(
            keys.album(album.id),
            "SET gsi1pk = :l, gsi1sk = :s",
            "attribute_exists(pk) AND track_count > :z",
            {":l": keys.LISTED, ":s": keys.title_sort(album.title, album.id), ":z": 0},
        )
