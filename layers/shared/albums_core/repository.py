"""DynamoDB adapter of the catalogue. Access patterns and call counts: ACCESS_PATTERNS.md."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from botocore.exceptions import ClientError

from albums_core import keys
from albums_core.aws import dynamodb
from albums_core.codec import from_item, to_item, to_value
from albums_core.config import settings
from albums_core.errors import Conflict
from albums_core.models import Album, Artist, Track

_BATCH_GET_MAX = 100
_TRACK_PREFIX = "TRACK#"


class CatalogueRepository:
    def __init__(self, table: str | None = None, client: Any = None) -> None:
        self.table = table or settings().catalogue_table
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or dynamodb()

    # ---- reads -----------------------------------------------------------------------

    def batch_get(self, key_list: list[dict[str, str]], consistent: bool = False) -> list[dict[str, Any]]:
        """BatchGetItem in chunks of 100, retrying unprocessed keys with a short back-off."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(key_list), _BATCH_GET_MAX):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [to_item(k) for k in key_list[start : start + _BATCH_GET_MAX]],
                    "ConsistentRead": consistent,
                }
            }
            for attempt in range(8):
                out = self.client.batch_get_item(RequestItems=request)
                found.extend(from_item(i) for i in out.get("Responses", {}).get(self.table, []))
                request = out.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.02 * 2**attempt, 0.5))
        return found

    def get_artist_by_handle(self, handle: str) -> Artist | None:
        out = self.client.get_item(TableName=self.table, Key=to_item(keys.handle_profile(handle)))
        item = out.get("Item")
        return Artist.from_data(from_item(item)) if item else None

    def get_artist(self, did: str) -> Artist | None:
        out = self.client.get_item(TableName=self.table, Key=to_item(keys.artist(did)))
        item = out.get("Item")
        return Artist.from_data(from_item(item)) if item else None

    def get_artists(self, dids: set[str]) -> dict[str, Artist]:
        items = self.batch_get([keys.artist(d) for d in sorted(dids)])
        return {i["did"]: Artist.from_data(i) for i in items}

    def _query_all(self, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            out = self.client.query(TableName=self.table, **params)
            items.extend(from_item(i) for i in out.get("Items", []))
            last = out.get("LastEvaluatedKey")
            if not last:
                return items
            params["ExclusiveStartKey"] = last

    def load_album(self, album_id: str) -> tuple[Album, list[Track]] | None:
        """The album item and its tracks: one strongly consistent Query (paged past 1 MB)."""
        items = self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": to_value(keys.album_partition(album_id))},
            ConsistentRead=True,
        )
        album: Album | None = None
        tracks: list[Track] = []
        for item in items:
            if item["sk"] == keys.ALBUM:
                album = Album.from_data(item)
            elif item["sk"].startswith(_TRACK_PREFIX):
                tracks.append(Track.from_data(item))
        return (album, tracks) if album else None

    def load_album_by_slug(self, handle: str, slug: str) -> tuple[Artist, Album, list[Track]] | None:
        """Handle profile and slug pointer in one BatchGetItem, then the album partition."""
        items = self.batch_get([keys.handle_profile(handle), keys.slug_pointer(handle, slug)])
        profile = next((i for i in items if i["sk"] == keys.PROFILE), None)
        pointer = next((i for i in items if i["sk"] != keys.PROFILE), None)
        if profile is None or pointer is None or pointer.get("artist_did") != profile.get("did"):
            return None
        loaded = self.load_album(pointer["album_id"])
        if loaded is None:
            return None
        album, tracks = loaded
        # A pointer left behind by a handle change or a rename must not serve another album.
        if album.artist_did != profile["did"] or album.slug != slug:
            return None
        return Artist.from_data(profile), album, tracks

    def get_album(self, album_id: str) -> Album | None:
        out = self.client.get_item(TableName=self.table, Key=to_item(keys.album(album_id)), ConsistentRead=True)
        item = out.get("Item")
        return Album.from_data(from_item(item)) if item else None

    def listed_albums_page(self, limit: int, after: dict[str, str] | None) -> tuple[list[Album], dict[str, str] | None]:
        """One page of listed albums by title. Asks for one item more than the page to know,
        without a second round trip, whether another page exists."""
        params: dict[str, Any] = {
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": to_value(keys.LISTED)},
            "Limit": limit + 1,
        }
        if after:
            params["ExclusiveStartKey"] = to_item(after)
        items: list[dict[str, Any]] = []
        while len(items) <= limit:
            out = self.client.query(TableName=self.table, **params)
            items.extend(from_item(i) for i in out.get("Items", []))
            last = out.get("LastEvaluatedKey")
            if not last:
                break
            params["ExclusiveStartKey"] = last
            params["Limit"] = limit + 1 - len(items)
        page = items[:limit]
        if len(items) <= limit or not page:
            return [Album.from_data(i) for i in page], None
        tail = page[-1]
        next_key = {k: tail[k] for k in ("pk", "sk", "gsi1pk", "gsi1sk")}
        return [Album.from_data(i) for i in page], next_key

    def artist_albums(self, did: str) -> list[Album]:
        items = self._query_all(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :p AND begins_with(gsi2sk, :s)",
            ExpressionAttributeValues={":p": to_value(f"ARTIST#{did}"), ":s": to_value("ALBUM#")},
        )
        return [Album.from_data(i) for i in items]

    def liked_track_ids(self, user_did: str, track_ids: list[int]) -> set[int]:
        if not track_ids:
            return set()
        items = self.batch_get([keys.like(user_did, t) for t in track_ids])
        return {int(i["track_id"]) for i in items}

    # ---- writes ----------------------------------------------------------------------

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        self.client.transact_write_items(TransactItems=actions)

    def put_artist(self, artist: Artist) -> None:
        """The artist item and its handle pointer (the read-side projection by handle)."""
        data = asdict(artist)
        self._transact(
            [
                {"Put": {"TableName": self.table, "Item": to_item({**keys.artist(artist.did), **data})}},
                {"Put": {"TableName": self.table, "Item": to_item({**keys.handle_profile(artist.handle), **data})}},
            ]
        )

    def _album_item(self, album: Album, handle: str | None = None) -> dict[str, Any]:
        data = asdict(album)
        return {
            **keys.album(album.id),
            **data,
            **keys.album_index_attributes(album.artist_did, album.title, album.id, album.track_count > 0),
            "image_key": keys.image_key(album.image_id),
        }

    def create_album(self, album: Album, handle: str) -> None:
        """Album, slug claim and slug pointer in one transaction; the claim's condition is
        what makes (artist, slug) unique."""
        try:
            self._transact(
                [
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item({**keys.slug_claim(album.artist_did, album.slug), "album_id": album.id}),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(
                                {
                                    **keys.slug_pointer(handle, album.slug),
                                    "album_id": album.id,
                                    "artist_did": album.artist_did,
                                }
                            ),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(self._album_item(album)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict("another of your albums already uses that name") from exc
            raise

    def next_track_id(self) -> int:
        out = self.client.update_item(
            TableName=self.table,
            Key=to_item(keys.track_id_counter()),
            UpdateExpression="ADD next_id :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["next_id"]["N"])

    def add_track_to_album(self, track: Track, album: Album) -> None:
        """The track item in the album's partition and the album's counters, atomically."""
        assert track.album_id == album.id
        item = {
            **keys.album_track(album.id, track.id),
            **asdict(track),
            **keys.track_index_attributes(track.artist_did, track.id, track.record_uri, track.created_at),
            "image_key": keys.image_key(track.image_id),
        }
        self._transact(
            [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": to_item(keys.album(album.id)),
                        "UpdateExpression": "ADD track_count :one, total_plays :plays SET gsi1pk = :l, gsi1sk = :s",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {
                            ":one": {"N": "1"},
                            ":plays": {"N": str(track.play_count)},
                            ":l": to_value(keys.LISTED),
                            ":s": to_value(keys.title_sort(album.title, album.id)),
                        },
                    }
                },
            ]
        )

    def set_track_order(self, album_id: str, record_uris: list[str]) -> None:
        self.client.update_item(
            TableName=self.table,
            Key=to_item(keys.album(album_id)),
            UpdateExpression="SET track_order = :o",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":o": to_value(record_uris)},
        )

    def put_like(self, user_did: str, track_id: int) -> None:
        self.client.put_item(
            TableName=self.table,
            Item=to_item({**keys.like(user_did, track_id), "track_id": track_id, "user_did": user_did}),
        )
