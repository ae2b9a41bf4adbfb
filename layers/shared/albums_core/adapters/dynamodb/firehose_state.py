"""DynamoDB adapter of the firehose consumer's own state: the lease and cursor checkpoint (one
item per relay), the rev applied per repository, and the like records with their counters.
Every counter changes in the same conditional transaction as the state it counts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.adapters.dynamodb.page_cache import invalidate_artist_cache
from albums_core.domain.models import Track

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_RACED = ("ConditionalCheckFailedException", "TransactionCanceledException")


def _raced(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in _RACED


@dataclass(frozen=True)
class Lease:
    holder: str
    cursor: int | None
    until: float


class FirehoseState:
    def __init__(self, repo: CatalogueWriter | None = None) -> None:
        self.repo = repo or CatalogueWriter()
        self.calls = 0  # DynamoDB calls made here (the benchmark reads it)

    @property
    def client(self) -> DynamoDBClient:
        return self.repo.client

    @property
    def table(self) -> str:
        return self.repo.table

    # ---- lease and checkpoint ----------------------------------------------------------------

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

    # ---- repositories ------------------------------------------------------------------------

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

    # ---- tracks by record URI (a like's subject) --------------------------------------------

    def track_by_uri(self, artist_did: str, uri: str) -> Track | None:
        """The artist's track item for a record URI: one Query of the artist's tracks (gsi2),
        filtered on the URI (paged past 1 MB)."""
        pages = self.repo.query_pages(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :p AND begins_with(gsi2sk, :s)",
            FilterExpression="record_uri = :u",
            ExpressionAttributeValues={
                ":p": to_value(keys.artist_partition(artist_did)),
                ":s": to_value(keys.TRACK_BY_ARTIST_PREFIX),
                ":u": to_value(uri),
            },
        )
        for page in pages:  # stops at the first match: no page read past it
            self.calls += 1
            if page:
                return Track.from_data(page[0])
        return None

    def _track_key(self, track: Track) -> dict[str, str]:
        if track.album_id:
            return keys.album_track(track.album_id, track.id)
        return keys.standalone_track(track.artist_did, track.id)

    # ---- likes -------------------------------------------------------------------------------

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
            if _raced(exc):
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
            if not _raced(exc):
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

    # ---- accounts that left ------------------------------------------------------------------

    def hide_artist(self, artist: Any) -> None:
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
            if not _raced(exc):
                raise
        invalidate_artist_cache({(artist.did, artist.handle)})

    def unlist_album(self, album_id: str) -> None:
        self.calls += 1
        self.repo.update_if(keys.album(album_id), "REMOVE gsi1pk, gsi1sk", "attribute_exists(pk)")

    def relist_album(self, album: Any) -> None:
        """Back in the listing while it has tracks (the count read now, in the condition)."""
        self.calls += 1
        self.repo.update_if(
            keys.album(album.id),
            "SET gsi1pk = :l, gsi1sk = :s",
            "attribute_exists(pk) AND track_count > :z",
            {":l": keys.LISTED, ":s": keys.title_sort(album.title, album.id), ":z": 0},
        )
