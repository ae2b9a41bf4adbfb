"""The catalogue's tracks: the track item (in its album's partition or standalone), the track id
counter, and the record guard (TRACKREC#<uri>: at most one track item per track record).

Every write that creates a track item for a record takes the record's guard in the same
transaction, on the condition that it is free or names this very track; every deletion of a
track item deletes its guard. A writer refused by the guard uses the track it names."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.codec import to_item, to_value
from albums_core.adapters.dynamodb.table import Action, Table, error_code, refused_positions
from albums_core.domain.errors import ConcurrentUpdate, RecordHeld
from albums_core.domain.models import Track
from albums_core.domain.records import TRACK_RECORD_FIELDS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

    from albums_core.adapters.dynamodb.catalogue_albums import Albums

# New tracks of the firehose consumer per transaction: a track item and its record's guard each.
_NEW_TRACKS_PER_TRANSACTION = 50
# Attempts at a creation whose guards another writer keeps changing (each refusal resolved).
GUARD_ATTEMPTS = 4
# Waits for the eventually consistent track index before a guard's track counts as gone.
_GUARD_LOOKUP_WAITS = (0.1, 0.2, 0.4, 0.8)
# The counters others ADD to a track item in place (plays, likes, comments).
_COUNTERS = ("play_count", "like_count", "comment_count")


def track_key(track: Track) -> dict[str, str]:
    if track.album_id:
        return keys.album_track(track.album_id, track.id)
    return keys.standalone_track(track.artist_did, track.id)


def track_item(track: Track) -> dict[str, Any]:
    return {
        **track_key(track),
        **asdict(track),
        **keys.track_index_attributes(track.artist_did, track.id, track.record_uri, track.created_at),
        "image_key": keys.image_key(track.image_id),
    }


class Tracks:
    def __init__(self, db: Table, albums: Albums) -> None:
        self.db = db
        self.albums = albums

    # ---- reads -----------------------------------------------------------------------------

    def artist_tracks(self, did: str) -> list[Track]:
        items = self.db.query_all(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :p AND begins_with(gsi2sk, :s)",
            ExpressionAttributeValues={
                ":p": to_value(keys.artist_partition(did)),
                ":s": to_value(keys.TRACK_BY_ARTIST_PREFIX),
            },
        )
        return [Track.from_data(i) for i in items]

    def find_track(self, track_id: int) -> Track | None:
        items = self.db.query_all(
            IndexName="gsi3",
            KeyConditionExpression="gsi3pk = :p",
            ExpressionAttributeValues={":p": to_value(keys.track_lookup(track_id))},
        )
        return Track.from_data(items[0]) if items else None

    def album_tracks(self, album_id: str, limit: int | None = None) -> list[Track]:
        """The tracks in an album's partition (the next `limit` of them), read consistently:
        what a deleted album's cleanup has still to release."""
        condition = "pk = :pk AND begins_with(sk, :t)"
        values = {":pk": to_value(keys.album_partition(album_id)), ":t": to_value(keys.TRACK_PREFIX)}
        if limit is None:
            items = self.db.query_all(
                KeyConditionExpression=condition, ExpressionAttributeValues=values, ConsistentRead=True
            )
        else:  # one page only
            items = next(
                self.db.query_pages(
                    Limit=limit, KeyConditionExpression=condition, ExpressionAttributeValues=values, ConsistentRead=True
                )
            )
        return [Track.from_data(i) for i in items]

    def liked_track_ids(self, user_did: str, track_ids: list[int]) -> set[int]:
        if not track_ids:
            return set()
        items = self.db.batch_get([keys.like(user_did, t) for t in track_ids])
        return {int(i["track_id"]) for i in items}

    def reserve_track_ids(self, count: int) -> range:
        """`count` fresh track ids in one counter update: the counter's new value is the last."""
        if count <= 0:
            return range(0)
        out = self.db.client.update_item(
            TableName=self.db.name,
            Key=to_item(keys.track_id_counter()),
            UpdateExpression="ADD next_id :n",
            ExpressionAttributeValues={":n": {"N": str(count)}},
            ReturnValues="UPDATED_NEW",
        )
        last = int(out["Attributes"]["next_id"]["N"])
        return range(last - count + 1, last + 1)

    # ---- actions ---------------------------------------------------------------------------

    def put_track(self, track: Track, new: bool = False) -> Action:
        """A Put action of the track item where its album (or none) puts it; `new` makes it
        conditional on the item not being there (a replayed move fails instead of repeating)."""
        return self.db.put(track_item(track), "attribute_not_exists(pk)" if new else None)

    def delete_track_action(self, track: Track, must_exist: bool = False, counted: bool = False) -> Action:
        """A Delete action of the track item; `must_exist` fails the transaction when the track
        is no longer where it was read (moved or deleted meanwhile), `counted` also when its
        counters are no longer as read (a play or like ADDed meanwhile, which the Put of the
        track elsewhere would lose: the caller reads it again and carries the new counts)."""
        if not counted:
            return self.db.delete_action(track_key(track), "attribute_exists(pk)" if must_exist else None)
        conditions: list[str] = []
        values: dict[str, Any] = {}
        for name in _COUNTERS:
            count = getattr(track, name)
            values[f":{name}"] = to_value(count)
            same = f"{name} = :{name}"
            conditions.append(f"(attribute_not_exists({name}) OR {same})" if count == 0 else same)
        as_read = " AND ".join(conditions)
        condition = f"attribute_exists(pk) AND {as_read}" if must_exist else f"attribute_not_exists(pk) OR ({as_read})"
        return self.db.delete_action(track_key(track), condition, values)

    def guard_action(self, track: Track, stale: int | None = None) -> Action:
        """The Put of `track`'s record guard naming `track`: conditional on the guard being
        free or already `track`'s, or (`stale`) naming that track id, whose item is gone."""
        assert track.record_uri
        item = {
            **keys.track_record_guard(track.artist_did, track.record_uri),
            "track_id": track.id,
            "record_uri": track.record_uri,
            # Where the item was created: read consistently before its index shows it.
            "created_in": track.album_id or "-",
        }
        values: dict[str, Any] = {":this": to_value(track.id)}
        if stale is None:
            condition = "attribute_not_exists(pk) OR track_id = :this"
        else:
            condition = "track_id = :this OR track_id = :old"
            values[":old"] = to_value(stale)
        return self.db.put(item, condition, values)

    def guard_key(self, track: Track) -> dict[str, str] | None:
        return keys.track_record_guard(track.artist_did, track.record_uri) if track.record_uri else None

    def guard_delete_actions(self, track: Track) -> list[Action]:
        """The Delete of the guard of a track item being deleted (none for a track without a
        record). Unconditional: a deletion is never refused for its guard."""
        key = self.guard_key(track)
        return [self.db.delete_action(key)] if key else []

    def record_holder(self, did: str, record_uri: str) -> tuple[int | None, Track | None]:
        """The track id the record's guard names (None: no guard) and that track's item (None:
        the item is gone, the guard is stale). The item is read consistently where it was
        created, else found by id in the track index (waiting a little for the index)."""
        guard = self.db.get(keys.track_record_guard(did, record_uri), consistent=True)
        if guard is None:
            return None, None
        track_id = int(guard["track_id"])
        created_in = str(guard.get("created_in") or "-")
        key = keys.standalone_track(did, track_id) if created_in == "-" else keys.album_track(created_in, track_id)
        item = self.db.get(key, consistent=True)
        if item is not None:
            return track_id, Track.from_data(item)
        for wait in (0.0, *_GUARD_LOOKUP_WAITS):
            time.sleep(wait)
            track = self.find_track(track_id)
            if track is not None:
                return track_id, track
        return track_id, None

    # ---- writes, one record at a time (the indexer, the firehose consumer) -----------------

    def remove_track(self, track: Track) -> None:
        """The track item goes (its record is gone from the PDS), and its record guard with it."""
        self.db.transact([self.delete_track_action(track), *self.guard_delete_actions(track)])

    def save_track(self, track: Track, replaces: Track | None = None) -> None:
        """Write an indexed track where its album (or none) puts it, and drop the item it
        `replaces` when that lived elsewhere (another album, or standalone), in one transaction.
        Into an album only while the album exists: ConcurrentUpdate when it is gone (or when
        another write got in the way); the caller tells the two apart.

        Without `replaces` the track is new: it takes its record's guard in the same
        transaction, and when another track holds the record (created meanwhile by another
        writer) nothing is written and RecordHeld names that track."""
        stale: int | None = None
        for _ in range(GUARD_ATTEMPTS):
            actions = [self.put_track(track)]
            if replaces is not None and track_key(replaces) != track_key(track):
                actions.insert(0, self.delete_track_action(replaces))
            guard_at = len(actions) if replaces is None and track.record_uri is not None else None
            if guard_at is not None:
                actions.append(self.guard_action(track, stale))
            if track.album_id:
                actions.append(
                    {
                        "ConditionCheck": {
                            "TableName": self.db.name,
                            "Key": to_item(keys.album(track.album_id)),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    }
                )
            try:
                self.db.transact(actions)
                return
            except ClientError as exc:
                if error_code(exc) not in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                    raise
                if guard_at is None or guard_at not in refused_positions(exc):
                    raise ConcurrentUpdate() from exc
                assert track.record_uri
                held_by, holder = self.record_holder(track.artist_did, track.record_uri)
                if holder is not None:
                    raise RecordHeld(holder) from exc
                stale = held_by  # its track is gone: taken over from that id (or free again)
        raise ConcurrentUpdate()

    def add_new_tracks(self, tracks: list[Track]) -> list[Track]:
        """Tracks with fresh ids (of distinct records), each where its album (or none) puts it,
        each with its record's guard: 50 tracks per transaction (an album's counters are the
        caller's). Returns the track each record has now, in order: the one given, or the one
        another writer created meanwhile (then nothing is written for that record)."""
        held: dict[int, Track] = {}
        stale: dict[int, int | None] = {}
        pending = list(range(len(tracks)))
        stalls = 0  # rounds that settled no record: each other round settles at least one
        while pending:
            again: list[int] = []
            settled = False
            for start in range(0, len(pending), _NEW_TRACKS_PER_TRANSACTION):
                chunk = pending[start : start + _NEW_TRACKS_PER_TRANSACTION]
                settled |= self._add_chunk(tracks, chunk, held, stale, again, stalls)
            pending = again
            if pending and not settled:
                stalls += 1
                if stalls >= GUARD_ATTEMPTS:
                    raise ConcurrentUpdate()
        return [held[i] for i in range(len(tracks))]

    def _add_chunk(
        self,
        tracks: list[Track],
        chunk: list[int],
        held: dict[int, Track],
        stale: dict[int, int | None],
        again: list[int],
        stalls: int,
    ) -> bool:
        """One transaction of `add_new_tracks`: True when it settled a record (written, or
        found held by another track); the positions to try again go to `again`."""
        actions: list[Action] = []
        guards: dict[int, int] = {}  # action position -> track position
        for i in chunk:
            actions.append(self.put_track(tracks[i]))
            if tracks[i].record_uri:
                guards[len(actions)] = i
                actions.append(self.guard_action(tracks[i], stale.get(i)))
        try:
            self.db.transact(actions)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            refused = {guards[p] for p in refused_positions(exc) if p in guards}
            settled = False
            for i in chunk:
                track = tracks[i]
                if i not in refused:
                    again.append(i)  # cancelled for another's refusal, or a conflict
                    continue
                assert track.record_uri
                held_by, holder = self.record_holder(track.artist_did, track.record_uri)
                if holder is not None:
                    held[i] = holder
                    settled = True
                else:
                    stale[i] = held_by
                    again.append(i)
            if not refused:
                time.sleep(0.05 * 2 ** min(stalls, 4))  # a conflicting transaction: later
            return settled
        held.update((i, tracks[i]) for i in chunk)
        return True

    def update_track_record(self, before: Track, after: Track) -> bool:
        """The fields `after`'s record determines (and the index keys they feed), written in
        place on `before`'s item only while it is still there holding `before`'s record
        version: counters, album and ids are left as the item has them. False when the item
        moved, went, or another write changed its record meanwhile."""
        item = to_item(track_item(after))
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        removes: list[str] = []
        for i, name in enumerate((*TRACK_RECORD_FIELDS, *keys.TRACK_INDEX_ATTRIBUTES)):
            names[f"#a{i}"] = name
            if name in item:
                values[f":v{i}"] = item[name]
                sets.append(f"#a{i} = :v{i}")
            else:
                removes.append(f"#a{i}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        if before.record_cid:
            condition = "#cid = :old"
            values[":old"] = to_value(before.record_cid)
        else:
            condition = "attribute_exists(pk) AND attribute_not_exists(#cid)"
        names["#cid"] = "record_cid"
        try:
            self.db.client.update_item(
                TableName=self.db.name,
                Key=to_item(track_key(before)),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def drop_track(self, track: Track) -> bool:
        """A track whose record is gone: its item and its record guard go, and its album's
        counters drop, in one transaction. False when the item is not where it was read (moved
        or gone)."""
        actions = [self.delete_track_action(track, must_exist=True), *self.guard_delete_actions(track)]
        if track.album_id:
            actions.append(self.albums.counter_action(track.album_id, -1, -track.play_count))
        try:
            if len(actions) == 1:
                self.db.client.delete_item(
                    TableName=self.db.name, Key=to_item(track_key(track)), ConditionExpression="attribute_exists(pk)"
                )
            else:
                self.db.transact(actions)
        except ClientError as exc:
            if error_code(exc) in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                return False
            raise
        return True

    # ---- many tracks at once (a deleted album, a PDS change) -------------------------------

    def release_tracks(self, tracks: list[Track], delete: bool, cids: dict[str, str | None]) -> None:
        """Tracks leave a (deleted) album: gone with `delete`, otherwise standalone with the
        CIDs their records got. Idempotent: the standalone item is written before the album's
        copy goes, so a run cut short is finished by the next one."""
        if not delete:
            standalone = [
                replace(t, album_id=None, record_cid=cids.get(t.record_uri or "") or t.record_cid) for t in tracks
            ]
            self.db.batch_write([{"PutRequest": {"Item": to_item(track_item(t))}} for t in standalone])
            self.db.batch_write([{"DeleteRequest": {"Key": to_item(track_key(t))}} for t in tracks])
            return
        # Each track's record guard goes in the same BatchWriteItem as the track, once per
        # record: two items of one record (made before the guard) share it, and a call naming
        # one key twice is refused whole.
        groups: list[list[WriteRequestTypeDef]] = []
        guarded: set[str] = set()
        for t in tracks:
            group: list[WriteRequestTypeDef] = [{"DeleteRequest": {"Key": to_item(track_key(t))}}]
            if (key := self.guard_key(t)) and t.record_uri not in guarded:
                guarded.add(str(t.record_uri))
                group.append({"DeleteRequest": {"Key": to_item(key)}})
            groups.append(group)
        call: list[WriteRequestTypeDef] = []
        for group in groups:
            if len(call) + len(group) > 25:
                self.db.batch_write(call)
                call = []
            call += group
        self.db.batch_write(call)
