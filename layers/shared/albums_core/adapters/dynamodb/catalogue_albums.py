"""The catalogue's albums: the album item (its listing index keys, its counters, its lease) and
the album partition's reads. Slugs, the album's names, are in catalogue_slugs.py."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import album_versions, keys
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.adapters.dynamodb.table import Action, Table, error_code
from albums_core.domain.errors import AlbumNotFound, Conflict
from albums_core.domain.models import Album, Track

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, UpdateItemInputTypeDef


def _update_expression(attrs: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
    """SET the attributes with a value, REMOVE those set to None: the expression, its values
    (encoded) and its names."""
    sets, removes, values, names = [], [], {}, {}
    for i, (name, value) in enumerate(attrs.items()):
        names[f"#a{i}"] = name
        if value is None:
            removes.append(f"#a{i}")
        else:
            sets.append(f"#a{i} = :v{i}")
            values[f":v{i}"] = to_value(value)
    parts = ["SET " + ", ".join(sets) if sets else "", "REMOVE " + ", ".join(removes) if removes else ""]
    return " ".join(p for p in parts if p), values, names


class Albums:
    def __init__(self, db: Table) -> None:
        self.db = db

    def album_item(self, album: Album) -> dict[str, Any]:
        return {
            **keys.album(album.id),
            **asdict(album),
            **keys.album_index_attributes(album.artist_did, album.title, album.id, album.track_count > 0),
            "image_key": keys.image_key(album.image_id),
        }

    # ---- reads -----------------------------------------------------------------------------

    def get_album(self, album_id: str) -> Album | None:
        item = self.db.get(keys.album(album_id), consistent=True)
        return Album.from_data(item) if item else None

    def load_album(self, album_id: str) -> tuple[Album, list[Track]] | None:
        """The album item and its tracks: one strongly consistent Query (paged past 1 MB)."""
        items = self.db.query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": to_value(keys.album_partition(album_id))},
            ConsistentRead=True,
        )
        album: Album | None = None
        tracks: list[Track] = []
        for item in items:
            if item["sk"] == keys.ALBUM:
                album = Album.from_data(item)
            elif item["sk"].startswith(keys.TRACK_PREFIX):
                tracks.append(Track.from_data(item))
        return (album, tracks) if album else None

    def listed_albums_page(self, limit: int, after: dict[str, str] | None) -> tuple[list[Album], dict[str, str] | None]:
        """One page of listed albums by title. Asks for one item more than the page to know,
        without a second round trip, whether another page exists."""
        params: QueryInputTypeDef = {
            "TableName": self.db.name,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": to_value(keys.LISTED)},
            "Limit": limit + 1,
        }
        if after:
            params["ExclusiveStartKey"] = to_item(after)
        items: list[dict[str, Any]] = []
        while len(items) <= limit:
            out = self.db.client.query(**params)
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
        items = self.db.query_all(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :p AND begins_with(gsi2sk, :s)",
            ExpressionAttributeValues={
                ":p": to_value(keys.artist_partition(did)),
                ":s": to_value(keys.ALBUM_BY_ARTIST_PREFIX),
            },
        )
        return [Album.from_data(i) for i in items]

    def image_in_use(self, image_id: str) -> bool:
        """Whether an album or a track refers to the image (by the eventually consistent
        by_image index: a reference just dropped may still show, one just made may not yet)."""
        out = self.db.client.query(
            TableName=self.db.name,
            IndexName="by_image",
            KeyConditionExpression="image_key = :k",
            ExpressionAttributeValues={":k": to_value(keys.image_key(image_id))},
            Limit=1,
            Select="COUNT",
        )
        return int(out.get("Count", 0)) > 0

    # ---- writes ----------------------------------------------------------------------------

    def create_album(self, album: Album, handle: str) -> None:
        """Album, slug claim and slug pointer in one transaction; the claim's condition is
        what makes (artist, slug) unique."""
        db = self.db
        try:
            db.transact(
                [
                    db.put(
                        {**keys.slug_claim(album.artist_did, album.slug), "album_id": album.id},
                        "attribute_not_exists(pk)",
                    ),
                    db.put(
                        {**keys.slug_pointer(handle, album.slug), "album_id": album.id, "artist_did": album.artist_did}
                    ),
                    db.put(self.album_item(album), "attribute_not_exists(pk)"),
                    # The slug was another album's before a rename: this album takes it over.
                    db.delete_action(keys.former_slug(album.artist_did, album.slug)),
                ]
            )
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                raise Conflict("another of your albums already uses that name") from exc
            raise

    def set_album_fields(
        self, album: Album, *, versioned: bool = False, expected: frozenset[int] | None = None, **changes: Any
    ) -> Album:
        """Update album attributes (and its index keys when the title changes). `versioned`: a
        change made outside the album's lease (a cover, the firehose) adds one to its version
        itself, checked against `expected` (an If-Match): the album as written is returned."""
        updated = Album.from_data({**asdict(album), **changes})
        attrs: dict[str, Any] = dict(changes)
        sort = keys.title_sort(updated.title, updated.id)
        if "title" in changes:
            attrs.update(gsi1sk=sort, gsi2sk=keys.album_by_artist_sort(sort))
        if "track_count" in changes:
            listed = updated.track_count > 0
            attrs.update(gsi1pk=keys.LISTED if listed else None, gsi1sk=sort if listed else None)
        if "image_id" in changes:
            attrs["image_key"] = keys.image_key(updated.image_id)
        expression, values, names = _update_expression(attrs)
        params: UpdateItemInputTypeDef = {
            "TableName": self.db.name,
            "Key": to_item(keys.album(album.id)),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
        }
        if versioned:
            version_condition, version_values = album_versions.condition(expected)
            params["UpdateExpression"] += f" ADD {album_versions.BUMP}"
            params["ConditionExpression"] += f" AND {version_condition}" if version_condition else ""
            params["ExpressionAttributeNames"] = {**names, **album_versions.NAMES}
            values.update({**album_versions.ONE, **version_values})
            params["ReturnValues"] = "ALL_NEW"
        if values:
            params["ExpressionAttributeValues"] = values
        try:
            out = self.db.client.update_item(**params)
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                album_versions.check_refusal(self.get_album(album.id) if expected else None, expected)
                raise AlbumNotFound() from exc  # deleted meanwhile
            raise
        return Album.from_data(from_item(out["Attributes"])) if versioned else updated

    def counter_action(self, album_id: str, tracks: int, plays: int, title: str | None = None) -> Action:
        """ADD to an album's counters; listed in gsi1 while it has tracks (`title` given when
        the album may become listed)."""
        values = {":n": {"N": str(tracks)}, ":p": {"N": str(plays)}}
        expression = "ADD track_count :n, total_plays :p"
        if title is not None:
            expression += " SET gsi1pk = :l, gsi1sk = :s"
            values[":l"] = to_value(keys.LISTED)
            values[":s"] = to_value(keys.title_sort(title, album_id))
        return {
            "Update": {
                "TableName": self.db.name,
                "Key": to_item(keys.album(album_id)),
                "UpdateExpression": expression,
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": values,
            }
        }

    def recount(self, album_id: str) -> Album | None:
        """Set the album's counters from its tracks (under the album's lease): exact whatever
        a failed or replayed request left behind. None when the album is gone (or went
        meanwhile)."""
        loaded = self.load_album(album_id)
        if loaded is None:
            return None
        album, tracks = loaded
        count, plays = len(tracks), sum(t.play_count for t in tracks)
        if (album.track_count, album.total_plays) != (count, plays):
            try:
                album = self.set_album_fields(album, track_count=count, total_plays=plays)
            except AlbumNotFound:
                return None  # deleted after it was read
        elif count == 0:
            self.unlist_if_empty(album_id)  # ADDs down to 0 leave it in the listing index
        return album

    def unlist_if_empty(self, album_id: str) -> None:
        self.db.update_if(
            keys.album(album_id), "REMOVE gsi1pk, gsi1sk", "attribute_exists(pk) AND track_count <= :z", {":z": 0}
        )

    def delete_album_items(self, album: Album, handle: str) -> None:
        """The album, its slug, its tombstone put: in one transaction."""
        db = self.db
        db.transact(
            [
                db.delete_action(keys.album(album.id)),
                db.delete_action(
                    keys.slug_claim(album.artist_did, album.slug), "album_id = :me", {":me": to_value(album.id)}
                ),
                db.delete_action(keys.slug_pointer(handle, album.slug)),
                tombstone(db, album.id),
            ]
        )

    # ---- the album's lease: one multi-step change at a time --------------------------------

    def lock_album(
        self, album_id: str, token: str, seconds: int, expected: frozenset[int] | None = None
    ) -> Album | None:
        """Take the album's lease for one multi-step change, adding one to its version (checked
        against `expected`, an If-Match, in the same write: 412 when it names another); returns
        the album as it stands under the lease (read by the same call), None while another holds it."""
        now = int(time.time())
        version_condition, version_values = album_versions.condition(expected)
        try:
            out = self.db.client.update_item(
                TableName=self.db.name,
                Key=to_item(keys.album(album_id)),
                UpdateExpression=f"SET lock_token = :t, lock_until = :u ADD {album_versions.BUMP}",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(lock_until) OR lock_until < :now)"
                + (f" AND {version_condition}" if version_condition else ""),
                ExpressionAttributeNames=album_versions.NAMES,
                ExpressionAttributeValues={
                    ":t": to_value(token),
                    ":u": {"N": str(now + seconds)},
                    ":now": {"N": str(now)},
                    **album_versions.ONE,
                    **version_values,
                },
                ReturnValues="ALL_NEW",
            )
            return Album.from_data(from_item(out["Attributes"]))
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                album_versions.check_refusal(self.get_album(album_id) if expected else None, expected)
                return None
            raise

    def unlock_album(self, album_id: str, token: str, undo_version: bool = False) -> None:
        """End the lease; `undo_version`: the change failed, the one its lease added goes again.
        Refused when gone with the album, or the lease expired and passed on."""
        update = "REMOVE lock_token, lock_until"
        values: dict[str, Any] = {":t": token}
        if undo_version:
            update, values = f"{update} ADD {album_versions.BUMP}", {**values, ":one": -1}
        names = album_versions.NAMES if undo_version else None
        self.db.update_if(keys.album(album_id), update, "lock_token = :t", values, names)


# How long a deleted album's tombstone keeps the firehose consumer from creating it again from
# its list's create commit (which may come after the deletion): longer than any consumer lags.
GONE_SECONDS = 7 * 24 * 3600


def tombstone(db: Table, album_id: str) -> Action:
    """The Put of a deleted album's tombstone (catalogue_lists.py checks it before a create),
    expiring by the table's TTL."""
    return db.put({**keys.album_gone(album_id), "expires_at": int(time.time()) + GONE_SECONDS})
