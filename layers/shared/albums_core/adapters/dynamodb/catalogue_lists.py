"""An album list record applied from the firehose commit that carries it
(services/firehose/lists.py): the album created or updated and its tracks moved in and out, in
one transaction, each item conditional on being as the consumer holds it. What the indexer
writes in several calls (the album, its slug, each track, the recount) is the same items here."""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import album_versions, keys
from albums_core.adapters.dynamodb.catalogue_albums import Albums
from albums_core.adapters.dynamodb.catalogue_tracks import Tracks
from albums_core.adapters.dynamodb.codec import to_item, to_value
from albums_core.adapters.dynamodb.table import Action, Table, error_code
from albums_core.domain.models import Album, Track

# A track's move is two actions (its item deleted as read, put where it goes), the album one
# (five when created: its slug's claim and pointer, the former slug's pointer, the check that
# it was not deleted): within 100.
MAX_LIST_MOVES = 48


class AlbumLists:
    def __init__(self, db: Table, albums: Albums, tracks: Tracks) -> None:
        self.db = db
        self.albums = albums
        self.tracks = tracks

    def apply_album_list(
        self, before: Album | None, after: Album, handle: str, moves: list[tuple[Track, Track]]
    ) -> bool:
        """`after` written (created when `before` is None, else updated from `before` as held:
        same version, same track count, not under a request's lease) and each (as held, where it
        goes) track moved, at once. False when any item is not as held: nothing is written."""
        assert len(moves) <= MAX_LIST_MOVES
        actions = self._create(after, handle) if before is None else [self._update(before, after)]
        for known, track in moves:
            actions.append(self.tracks.delete_track_action(known, must_exist=True, counted=True))
            actions.append(self.tracks.put_track(track, new=True))
        try:
            self.db.transact(actions)
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False
            raise
        return True

    def _create(self, album: Album, handle: str) -> list[Action]:
        """What `Albums.create_album` writes, the album item with its counters already, unless
        the album has a tombstone."""
        db = self.db
        return [
            db.put({**keys.slug_claim(album.artist_did, album.slug), "album_id": album.id}, "attribute_not_exists(pk)"),
            db.put({**keys.slug_pointer(handle, album.slug), "album_id": album.id, "artist_did": album.artist_did}),
            db.put(self.albums.album_item(album), "attribute_not_exists(pk)"),
            db.delete_action(keys.former_slug(album.artist_did, album.slug)),
            # Not an album our API deleted before its list's create commit came (jobs.hand_over).
            {
                "ConditionCheck": {
                    "TableName": db.name,
                    "Key": to_item(keys.album_gone(album.id)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]

    def _update(self, before: Album, after: Album) -> Action:
        """The list's CID and order, the version one up (as the indexer's versioned change), the
        counters by what moved, the listing while it has tracks."""
        values: dict[str, object] = {
            ":cid": to_value(after.list_cid),
            ":order": to_value(after.track_order),
            ":n": to_value(after.track_count - before.track_count),
            ":p": to_value(after.total_plays - before.total_plays),
            ":was": to_value(before.track_count),
            ":now": to_value(int(time.time())),
            **album_versions.ONE,
        }
        expression = "SET list_cid = :cid, track_order = :order"
        if after.track_count > 0:
            expression += ", gsi1pk = :l, gsi1sk = :s"
            values[":l"] = to_value(keys.LISTED)
            values[":s"] = to_value(keys.title_sort(after.title, after.id))
        expression += f" ADD track_count :n, total_plays :p, {album_versions.BUMP}"
        if after.track_count <= 0:
            expression += " REMOVE gsi1pk, gsi1sk"
        version, version_values = album_versions.condition(frozenset({before.version}))
        values.update(version_values)
        counted = "track_count = :was"
        if not before.track_count:
            counted = f"(attribute_not_exists(track_count) OR {counted})"
        return {
            "Update": {
                "TableName": self.db.name,
                "Key": to_item(keys.album(before.id)),
                "UpdateExpression": expression,
                "ConditionExpression": f"attribute_exists(pk) AND {version} AND {counted}"
                " AND (attribute_not_exists(lock_until) OR lock_until < :now)",
                "ExpressionAttributeNames": album_versions.NAMES,
                "ExpressionAttributeValues": values,  # type: ignore[typeddict-item]
            }
        }
