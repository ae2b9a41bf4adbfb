"""DynamoDB adapter of the likes the firehose consumer applies: a like record per (liker, rkey)
(counted, duplicate, orphan, or a tombstone once deleted), one like per (liker, track), the
pointers of orphan likes under their track's artist, and each track's like_count. Every
counter changes in the same conditional transaction as the state it counts."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue_store import CatalogueStore, raced
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.domain.models import Track


class LikeStore(CatalogueStore):
    def _track_key(self, track: Track) -> dict[str, str]:
        if track.album_id:
            return keys.album_track(track.album_id, track.id)
        return keys.standalone_track(track.artist_did, track.id)

    def like_record(self, liker: str, rkey: str) -> dict[str, Any] | None:
        self.calls += 1
        out = self.client.get_item(
            TableName=self.table, Key=to_item(keys.like_record(liker, rkey)), ConsistentRead=True
        )
        return from_item(out["Item"]) if "Item" in out else None

    def _put_record_once(self, liker: str, rkey: str, fields: dict[str, Any]) -> bool:
        self.calls += 1
        try:
            self.client.put_item(
                TableName=self.table,
                Item=to_item({**keys.like_record(liker, rkey), **fields}),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if raced(exc):
                return False
            raise
        return True

    def add_like(self, liker: str, rkey: str, track: Track, subject_cid: str) -> str:
        """Count one like once: the like record, the (liker, track) like and the track's
        like_count in one conditional transaction. Returns what happened: `applied`, `replayed`
        (this like record was seen before, or deleted: a tombstone), `duplicate` (the liker
        already likes the track through another record), `moved` (the track item is not where
        it was read: look it up again)."""
        if self.add_likes([(liker, rkey, track, subject_cid)]):
            return "applied"
        if self.like_record(liker, rkey) is not None:
            return "replayed"
        self.calls += 1
        liked = self.client.get_item(
            TableName=self.table, Key=to_item(keys.like(liker, track.id)), ConsistentRead=True
        ).get("Item")
        record = {"track_id": track.id, "track_uri": track.record_uri, "subject_cid": subject_cid}
        if liked is not None and self.add_duplicate(liker, rkey, {**record, "liked_at": int(time.time())}, track.id):
            return "duplicate"
        return "replayed" if self.like_record(liker, rkey) is not None else "moved"

    def add_duplicate(self, liker: str, rkey: str, record: dict[str, Any], track_id: int) -> bool:
        """A second like record of a (liker, track) already liked: kept, not counted, and named
        on the (liker, track) like, so it takes over if the counted one is deleted."""
        return self._transact_or_false(
            [
                self._put_new({**keys.like_record(liker, rkey), **record, "state": "duplicate"}),
                self._duplicates_action(liker, track_id, rkey, "ADD"),
            ]
        )

    def add_likes(self, likes: list[tuple[str, str, Track, str]]) -> bool:
        """Count several new likes (liker, rkey, track, subject CID) in one transaction: each
        like record and (liker, track) like conditionally new, each track's like_count raised
        once by its number of likes. All or nothing: False when any condition fails (a replay,
        a duplicate, a track that moved); the caller then applies them one by one. No two
        likes may share a record or a (liker, track) pair, and at most 33 tracks' worth fit."""
        now = int(time.time())
        actions: list[dict[str, Any]] = []
        per_track: dict[int, tuple[Track, int]] = {}
        for liker, rkey, track, cid in likes:
            record = {
                "state": "counted",
                "track_id": track.id,
                "track_uri": track.record_uri,
                "subject_cid": cid,
                "liked_at": now,
            }
            actions.append(self._put_new({**keys.like_record(liker, rkey), **record}))
            actions.append(self._put_new({**keys.like(liker, track.id), "track_id": track.id, "like_rkey": rkey}))
            held, n = per_track.get(track.id, (track, 0))
            per_track[track.id] = (held, n + 1)
        for track, n in per_track.values():
            actions.append(self._like_count_action(track, n))
        return self._transact_or_false(actions)

    def remove_likes(self, likes: list[tuple[str, str, int, Track]]) -> bool:
        """Uncount several counted likes (liker, rkey, track id, the track) in one transaction:
        record to tombstone, (liker, track) like gone, counters down. False when any condition
        fails; the caller then removes them one by one."""
        actions: list[dict[str, Any]] = []
        per_track: dict[int, tuple[Track, int]] = {}
        for liker, rkey, track_id, track in likes:
            actions.append(self._tombstone_action(liker, rkey, "counted"))
            # A like with duplicates hands over to one of them: one by one, not here.
            actions.append(self._unlike_action(liker, track_id, rkey, "attribute_not_exists(duplicates)"))
            held, n = per_track.get(track.id, (track, 0))
            per_track[track.id] = (held, n - 1)
        for track, n in per_track.values():
            actions.append(self._like_count_action(track, n))
        return self._transact_or_false(actions)

    def like_records(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The like records of (liker, rkey) pairs, consistently read, 100 keys a call."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(pairs), 100):
            self.calls += 1
            chunk = [keys.like_record(liker, rkey) for liker, rkey in pairs[start : start + 100]]
            for item in self.repo.batch_get(chunk, consistent=True):
                liker = str(item["pk"]).removeprefix(keys.USER_PREFIX)
                found[(liker, keys.like_rkey_of(str(item["sk"])))] = item
        return found

    def like_records_of(self, liker: str) -> dict[str, dict[str, Any]]:
        """Every like record we hold of one liker (tombstones too), by rkey: one partition."""
        found: dict[str, dict[str, Any]] = {}
        pages = self.repo.query_pages(
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues={
                ":p": to_value(keys.like_record(liker, "")["pk"]),
                ":s": to_value(keys.LIKE_RECORD_PREFIX),
            },
            ConsistentRead=True,
        )
        for page in pages:
            self.calls += 1
            for record in page:
                found[keys.like_rkey_of(str(record["sk"]))] = record
        return found

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        condition = "attribute_not_exists(pk)"
        return {"Put": {"TableName": self.table, "Item": to_item(item), "ConditionExpression": condition}}

    def _like_count_action(self, track: Track, delta: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": to_item(self._track_key(track)),
                "UpdateExpression": "ADD like_count :n",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":n": {"N": str(delta)}},
            }
        }

    def _transact_or_false(self, actions: list[dict[str, Any]]) -> bool:
        self.calls += 1
        try:
            self.repo.transact_in_batches(actions, len(actions))
        except ClientError as exc:
            if not raced(exc):
                raise
            return False
        return True

    def orphan_like(self, liker: str, rkey: str, subject_uri: str, subject_cid: str) -> bool:
        """A like of a track we do not hold (yet): the record (not counted) and a pointer under
        the track's artist, so the like counts once the track is indexed, and its delete is
        recognised. False when the like record exists already (a replay, or a tombstone)."""
        record = {"state": "orphan", "track_uri": subject_uri, "subject_cid": subject_cid}
        pointer = {"liker": liker, "rkey": rkey, "track_uri": subject_uri, "subject_cid": subject_cid}
        return self._transact_or_false(
            [
                self._put_new({**keys.like_record(liker, rkey), **record}),
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item({**keys.orphan_like(subject_uri, liker, rkey), **pointer}),
                    }
                },
            ]
        )

    def orphans(self, artist_did: str) -> list[dict[str, Any]]:
        """The pointers of the artist's orphan likes (a Query of one small partition)."""
        found: list[dict[str, Any]] = []
        pages = self.repo.query_pages(
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": to_value(keys.orphans_partition(artist_did))},
            ConsistentRead=True,
        )
        for page in pages:
            self.calls += 1
            found.extend(page)
        return found

    def adopt_orphan(self, pointer: dict[str, Any], track: Track) -> str:
        """Count an orphan like now that its track is held, in one transaction with the pointer's
        removal: `applied`, `duplicate` (the liker likes the track through another record),
        `gone` (deleted meanwhile: only the pointer goes), `moved` (the track is not where read)."""
        liker, rkey = str(pointer["liker"]), str(pointer["rkey"])
        drop = self.repo.delete_action(keys.orphan_like(str(pointer["track_uri"]), liker, rkey))
        became: dict[str, Any] = {
            "Update": {
                "TableName": self.table,
                "Key": to_item(keys.like_record(liker, rkey)),
                "UpdateExpression": "SET #s = :c, track_id = :t, liked_at = :now",
                "ConditionExpression": "#s = :orphan",
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": {
                    ":c": to_value("counted"),
                    ":t": to_value(track.id),
                    ":now": to_value(int(time.time())),
                    ":orphan": to_value("orphan"),
                },
            }
        }
        liked = self._put_new({**keys.like(liker, track.id), "track_id": track.id, "like_rkey": rkey})
        if self._transact_or_false([became, liked, self._like_count_action(track, 1), drop]):
            return "applied"
        record = self.like_record(liker, rkey)
        if record is None or record.get("state") != "orphan":
            self._transact_or_false([drop])
            return "gone"
        self.calls += 1
        if self.client.get_item(TableName=self.table, Key=to_item(keys.like(liker, track.id))).get("Item"):
            became["Update"]["ExpressionAttributeValues"][":c"] = to_value("duplicate")
            named = self._duplicates_action(liker, track.id, rkey, "ADD")
            if self._transact_or_false([became, named, drop]):
                return "duplicate"
        return "moved"

    def remove_like(self, liker: str, rkey: str, track: Track | None) -> str:
        """Uncount a counted like in one transaction (record to tombstone, like gone, counter
        down). `tombstoned` when the like was never seen (a replayed create is then refused),
        `replayed` when already deleted, `moved` when the track is not where it was read."""
        record = self.like_record(liker, rkey)
        if record is None:
            return "tombstoned" if self._put_record_once(liker, rkey, {"state": "deleted"}) else "moved"
        state = record.get("state")
        if state == "deleted":
            return "replayed"
        actions: list[dict[str, Any]] = [self._tombstone_action(liker, rkey, str(state))]
        if state == "orphan" and record.get("track_uri"):
            actions.append(self.repo.delete_action(keys.orphan_like(str(record["track_uri"]), liker, rkey)))
        if state == "duplicate" and record.get("track_id") is not None:
            named = self._duplicates_action(liker, int(record["track_id"]), rkey, "DELETE")
            if self._transact_or_false([*actions, named]):
                return "applied"
            # The counted like went meanwhile (or never named it): the tombstone alone.
        if state == "counted":
            handed = self._hand_over(liker, rkey, int(record["track_id"]), actions[0])
            if handed:
                return handed
            actions.append(self._unlike_action(liker, int(record["track_id"]), rkey))
            if track is not None:
                actions.append(self._like_count_action(track, -1))
        return "applied" if self._transact_or_false(actions) else "moved"

    def _tombstone_action(self, liker: str, rkey: str, was: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": to_item(keys.like_record(liker, rkey)),
                "UpdateExpression": "SET #s = :d",
                "ConditionExpression": "#s = :was",
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": {":d": to_value("deleted"), ":was": to_value(was)},
            }
        }

    def _unlike_action(self, liker: str, track_id: int, rkey: str, also: str | None = None) -> dict[str, Any]:
        """The (liker, track) like goes, only while this like record is the one it counts."""
        condition = "like_rkey = :k" + (f" AND {also}" if also else "")
        return self.repo.delete_action(keys.like(liker, track_id), condition, {":k": to_value(rkey)})

    def _duplicates_action(self, liker: str, track_id: int, rkey: str, verb: str) -> dict[str, Any]:
        """ADD or DELETE a like record's rkey in the duplicates named on the (liker, track) like."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": to_item(keys.like(liker, track_id)),
                "UpdateExpression": f"{verb} duplicates :k",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":k": {"SS": [rkey]}},
            }
        }

    def _hand_over(self, liker: str, rkey: str, track_id: int, tombstone: dict[str, Any]) -> str | None:
        """The counted like of a (liker, track) that has duplicates is deleted: one duplicate
        becomes the counted like, in one transaction; the count and `is_liked` do not change.
        None when there is no duplicate to hand over to."""
        self.calls += 1
        liked = self.client.get_item(
            TableName=self.table, Key=to_item(keys.like(liker, track_id)), ConsistentRead=True
        ).get("Item")
        duplicates = sorted(from_item(liked).get("duplicates") or []) if liked else []
        if not duplicates:
            return None
        heir = str(duplicates[0])
        actions = [
            tombstone,
            {
                "Update": {
                    "TableName": self.table,
                    "Key": to_item(keys.like(liker, track_id)),
                    "UpdateExpression": "SET like_rkey = :heir DELETE duplicates :d",
                    "ConditionExpression": "like_rkey = :k",
                    "ExpressionAttributeValues": {
                        ":heir": to_value(heir),
                        ":d": {"SS": [heir]},
                        ":k": to_value(rkey),
                    },
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": to_item(keys.like_record(liker, heir)),
                    "UpdateExpression": "SET #s = :c",
                    "ConditionExpression": "#s = :dup",
                    "ExpressionAttributeNames": {"#s": "state"},
                    "ExpressionAttributeValues": {":c": to_value("counted"), ":dup": to_value("duplicate")},
                }
            },
        ]
        return "handed_over" if self._transact_or_false(actions) else "moved"
