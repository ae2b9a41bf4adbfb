"""DynamoDB adapter of the catalogue. Access patterns and call counts: ACCESS_PATTERNS.md."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from typing import Any

from botocore.exceptions import ClientError

from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb import album_versions, keys
from albums_core.adapters.dynamodb.codec import from_item, to_item, to_value
from albums_core.adapters.dynamodb.page_cache import invalidate_album_cache, invalidate_artist_cache
from albums_core.config import settings
from albums_core.domain.errors import (
    AlbumNotFound,
    ArtistNotFound,
    ConcurrentUpdate,
    Conflict,
    RecordHeld,
    TrackTaken,
)
from albums_core.domain.models import Album, Artist, Track
from albums_core.domain.records import TRACK_RECORD_FIELDS, iso_utc, now_iso, onto_existing

_BATCH_GET_MAX = 100
_MAX_TRANSACTION = 100  # items in one TransactWriteItems
_HANDLE_CLAIM_ATTEMPTS = 5
# A transaction holds 100 actions: at most three per moved track, and the album's counters.
_MOVES_PER_TRANSACTION = 33
# New tracks of the firehose consumer per transaction: a track item and its record's guard each.
_NEW_TRACKS_PER_TRANSACTION = 50
# Attempts at a creation whose guards another writer keeps changing (each refusal resolved).
_GUARD_ATTEMPTS = 4
# Attempts at a batch of track CIDs that conflicting transactions keep cancelling.
_CID_ATTEMPTS = 5
# Pages of the artist's track index a count reads at most.
_COUNT_PAGES = 3
# Waits for the eventually consistent track index before a guard's track counts as gone.
_GUARD_LOOKUP_WAITS = (0.1, 0.2, 0.4, 0.8)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _refused(exc: ClientError) -> set[int]:
    """The positions of a cancelled transaction's actions whose condition failed."""
    reasons = exc.response.get("CancellationReasons") or []
    return {i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"}


def _unchanged(attribute: str, value: str | None) -> dict[str, Any]:
    """The condition of a write that must find `attribute` as read (or the item absent)."""
    if value is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": f"{attribute} = :was", "ExpressionAttributeValues": {":was": to_value(value)}}


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

    def query_pages(self, **params: Any) -> Iterator[list[dict[str, Any]]]:
        """A Query of the table, one decoded page (up to 1 MB) per DynamoDB call."""
        while True:
            out = self.client.query(TableName=self.table, **params)
            yield [from_item(i) for i in out.get("Items", [])]
            last = out.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    def _query_all(self, **params: Any) -> list[dict[str, Any]]:
        return [item for page in self.query_pages(**params) for item in page]

    def update_if(
        self,
        key: dict[str, str],
        update: str,
        condition: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
        returning: bool = False,
    ) -> dict[str, Any] | None:
        """One conditional UpdateItem (`values` plain, encoded here): the item as written (empty
        unless `returning`), or None when the condition refused the write."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "Key": to_item(key),
            "UpdateExpression": update,
            "ConditionExpression": condition,
        }
        if values:
            params["ExpressionAttributeValues"] = {k: to_value(v) for k, v in values.items()}
        if names:
            params["ExpressionAttributeNames"] = names
        if returning:
            params["ReturnValues"] = "ALL_NEW"
        try:
            out = self.client.update_item(**params)
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return from_item(out["Attributes"]) if returning else {}

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
            elif item["sk"].startswith(keys.TRACK_PREFIX):
                tracks.append(Track.from_data(item))
        return (album, tracks) if album else None

    def load_album_by_slug(self, handle: str, slug: str) -> tuple[Artist, Album, list[Track]] | None:
        found = self.find_album_by_slug(handle, slug)
        return found if isinstance(found, tuple) else None

    def find_album_by_slug(self, handle: str, slug: str) -> tuple[Artist, Album, list[Track]] | str | None:
        """Handle profile and slug pointer in one BatchGetItem, then the album partition. A
        slug that is no album's now but was one's before a rename: that album's current slug."""
        items = self.batch_get([keys.handle_profile(handle), keys.slug_pointer(handle, slug)])
        profile = next((i for i in items if i["sk"] == keys.PROFILE), None)
        pointer = next((i for i in items if i["sk"] != keys.PROFILE), None)
        if profile is not None and pointer is None:
            return self.current_slug(str(profile["did"]), slug)
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

    def current_slug(self, did: str, former: str) -> str | None:
        """The current slug of the artist's album that had the slug `former` before a rename
        (a GetItem, then the album's): None when no album had it, or that album is gone."""
        out = self.client.get_item(TableName=self.table, Key=to_item(keys.former_slug(did, former)))
        item = out.get("Item")
        if not item:
            return None
        album = self.get_album(str(from_item(item)["album_id"]))
        if album is None or album.artist_did != did or album.slug == former:
            return None
        return album.slug

    def former_slugs(self, did: str, album_id: str) -> list[str]:
        """The slugs the album had before its renames and still holds."""
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :f)",
            ExpressionAttributeValues={
                ":pk": to_value(keys.artist_partition(did)),
                ":f": to_value(keys.FORMER_PREFIX),
            },
            ConsistentRead=True,
        )
        return sorted(keys.former_slug_of(i["sk"]) for i in items if i.get("album_id") == album_id)

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
            ExpressionAttributeValues={
                ":p": to_value(keys.artist_partition(did)),
                ":s": to_value(keys.ALBUM_BY_ARTIST_PREFIX),
            },
        )
        return [Album.from_data(i) for i in items]

    def liked_track_ids(self, user_did: str, track_ids: list[int]) -> set[int]:
        if not track_ids:
            return set()
        items = self.batch_get([keys.like(user_did, t) for t in track_ids])
        return {int(i["track_id"]) for i in items}

    # ---- writes ----------------------------------------------------------------------

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        # The token makes botocore's retry of a timed-out call a no-op in DynamoDB instead of
        # a second application (counters ADDed twice).
        self.client.transact_write_items(TransactItems=actions, ClientRequestToken=uuid.uuid4().hex)

    def put_artist(self, artist: Artist) -> None:
        """The artist item and its handle pointer (the read-side projection by handle), written
        blindly: for fixtures and benchmarks. Logins go through CatalogueWriter.upsert_artist,
        which claims the pointer only from the holder it read."""
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
                    # The slug was another album's before a rename: this album takes it over.
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": to_item(keys.former_slug(album.artist_did, album.slug)),
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict("another of your albums already uses that name") from exc
            raise

    def next_track_id(self) -> int:
        return self.reserve_track_ids(1)[0]

    def reserve_track_ids(self, count: int) -> range:
        """`count` fresh track ids in one counter update: the counter's new value is the last."""
        if count <= 0:
            return range(0)
        out = self.client.update_item(
            TableName=self.table,
            Key=to_item(keys.track_id_counter()),
            UpdateExpression="ADD next_id :n",
            ExpressionAttributeValues={":n": {"N": str(count)}},
            ReturnValues="UPDATED_NEW",
        )
        last = int(out["Attributes"]["next_id"]["N"])
        return range(last - count + 1, last + 1)


class CatalogueWriter(CatalogueRepository):
    """The write side's operations: each a conditional write or a transaction, so counters,
    slugs and membership change atomically with what they describe."""

    def _put(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": to_item(item)}}

    def delete_action(
        self, key: dict[str, str], condition: str | None = None, values: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        action: dict[str, Any] = {"TableName": self.table, "Key": to_item(key)}
        if condition:
            action["ConditionExpression"] = condition
        if values:
            action["ExpressionAttributeValues"] = values
        return {"Delete": action}

    def transact_in_batches(self, actions: list[dict[str, Any]], size: int = 100) -> None:
        for start in range(0, len(actions), size):
            self._transact(actions[start : start + size])

    # ---- artists -------------------------------------------------------------------------

    def first_indexed(self, did: str) -> str | None:
        """The earliest `created_at` of the artist's albums and tracks: when an artist indexed
        before artists had their own times was first seen (None when it has neither)."""
        times = [iso_utc(a.created_at) for a in self.artist_albums(did)]
        times += [iso_utc(t.created_at) for t in self.artist_tracks(did)]
        return min((t for t in times if t), default=None)

    def backfill_artist_times(self, artist: Artist) -> Artist:
        """An artist item written before artists had times gets them (its artist item and its
        handle profile, each only if it still has none); the artist as it then stands."""
        created = self.first_indexed(artist.did) or now_iso()
        for key in (keys.artist(artist.did), keys.handle_profile(artist.handle)):
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=to_item(key),
                    UpdateExpression="SET created_at = :c, updated_at = if_not_exists(updated_at, :c)",
                    ConditionExpression="attribute_exists(pk) AND attribute_not_exists(created_at) AND did = :d",
                    ExpressionAttributeValues={":c": to_value(created), ":d": to_value(artist.did)},
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
        out = self.client.get_item(TableName=self.table, Key=to_item(keys.artist(artist.did)), ConsistentRead=True)
        stored = Artist.from_data(from_item(out["Item"])) if out.get("Item") else None
        if stored is not None and stored.handle == artist.handle and stored.created_at:
            return stored
        return replace(artist, created_at=created, updated_at=artist.updated_at or created)

    def upsert_artist(self, artist: Artist) -> None:
        """Write the artist and point HANDLE#<its handle> at it.

        `artist.handle` must be verified (it resolves to `artist.did`) or be the DID itself.
        The pointer is taken on the condition that its holder is still the one read here; a
        previous holder loses the name in the same transaction (its artist item and profile
        fall back to its DID, its album pointers move under HANDLE#<its did>), so a handle
        never names two artists. Retried from a fresh read when a concurrent write wins."""
        for _ in range(_HANDLE_CLAIM_ATTEMPTS):
            try:
                rest, pages, profiles = self._claim_handle(artist)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                continue
            # Outside the retry: a fresh read would find the claim done and skip these.
            for start in range(0, len(rest), _MAX_TRANSACTION):
                self._transact_retrying(rest[start : start + _MAX_TRANSACTION])
            for handle, slug in sorted(pages):
                invalidate_album_cache(handle, slug)
            invalidate_artist_cache(profiles)
            return
        raise Conflict("the handle changed while logging in; try again")

    def _profile_item(self, key: dict[str, str]) -> Artist | None:
        out = self.client.get_item(TableName=self.table, Key=to_item(key), ConsistentRead=True)
        item = out.get("Item")
        return Artist.from_data(from_item(item)) if item else None

    def _slug_items(self, pk: str) -> dict[str, dict[str, Any]]:
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :s)",
            ExpressionAttributeValues={":pk": to_value(pk), ":s": to_value(keys.SLUG_PREFIX)},
            ConsistentRead=True,
        )
        return {keys.slug_of(i["sk"]): i for i in items}

    def _stamped(self, artist: Artist, old: Artist | None) -> Artist:
        """`artist` with its times: created when first indexed (kept ever after; an artist
        indexed before artists had times gets the earliest of its albums and tracks), updated
        when the item's content last changed."""
        content = replace(artist, created_at=None, updated_at=None)
        if old is None:
            created = artist.created_at or now_iso()
            return replace(artist, created_at=created, updated_at=created)
        created = old.created_at or self.first_indexed(artist.did) or now_iso()
        if replace(old, created_at=None, updated_at=None) == content:
            return replace(artist, created_at=created, updated_at=old.updated_at or created)
        return replace(artist, created_at=created, updated_at=now_iso())

    def _claim_handle(self, artist: Artist) -> tuple[list[dict[str, Any]], set[tuple[str, str]], set[tuple[str, str]]]:
        """One conditional transaction; returns the album pointer writes that did not fit in
        it, the (handle, slug) pages whose pointers change and the (did, handle) profiles."""
        me, name = artist.did, artist.handle
        old = self._profile_item(keys.artist(me))
        holder = self._profile_item(keys.handle_profile(name))
        artist = self._stamped(artist, old)
        # Unchanged only when the pointer is ours too: a holder re-verifying restores it.
        if old == artist and holder == artist:
            return [], set(), set()
        profiles = {(me, name)} | ({(me, old.handle)} if old else set())
        data = asdict(artist)
        head = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item({**keys.artist(me), **data}),
                    **_unchanged("handle", old.handle if old else None),
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": to_item({**keys.handle_profile(name), **data}),
                    **_unchanged("did", holder.did if holder else None),
                }
            },
        ]
        puts: list[dict[str, Any]] = []
        deletes: list[dict[str, Any]] = []
        pages: set[tuple[str, str]] = set()

        def put_pointer(handle: str, slug: str, album_id: str, did: str) -> None:
            puts.append(self._put({**keys.slug_pointer(handle, slug), "album_id": album_id, "artist_did": did}))
            pages.add((handle, slug))

        def drop_pointer(handle: str, slug: str) -> None:
            deletes.append(self.delete_action(keys.slug_pointer(handle, slug)))
            pages.add((handle, slug))

        if holder is None or holder.did != me or old is None or old.handle != name:
            # Our album pointers under the name are rebuilt from our slug claims (the source
            # of truth); anything else there (another DID's, or stale) goes.
            mine = {slug: str(c["album_id"]) for slug, c in self._slug_items(keys.artist_partition(me)).items()}
            for slug, album_id in mine.items():
                put_pointer(name, slug, album_id, me)
            for slug in self._slug_items(keys.handle_partition(name)):
                if slug not in mine:
                    drop_pointer(name, slug)
        if holder is not None and holder.did != me:
            previous = self._profile_item(keys.artist(holder.did))
            if previous is not None and previous.handle == name:
                # The name resolves to us now, so its previous holder has no verified handle.
                fallback = replace(previous, handle=previous.did, updated_at=now_iso())
                profiles |= {(previous.did, name), (previous.did, previous.did)}
                head.append(
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item(keys.artist(previous.did)),
                            "UpdateExpression": "SET handle = :d, updated_at = :u",
                            "ConditionExpression": "handle = :n",
                            "ExpressionAttributeValues": {
                                ":d": to_value(previous.did),
                                ":n": to_value(name),
                                ":u": to_value(fallback.updated_at),
                            },
                        }
                    }
                )
                head.append(self._put({**keys.handle_profile(previous.did), **asdict(fallback)}))
                for slug, claim in self._slug_items(keys.artist_partition(previous.did)).items():
                    put_pointer(previous.did, slug, str(claim["album_id"]), previous.did)
        if old is not None and old.handle != name:
            if (old_holder := self._profile_item(keys.handle_profile(old.handle))) and old_holder.did == me:
                head.append(self.delete_action(keys.handle_profile(old.handle), "did = :me", {":me": to_value(me)}))
            for slug, pointer in self._slug_items(keys.handle_partition(old.handle)).items():
                if pointer.get("artist_did") == me:
                    drop_pointer(old.handle, slug)
        # Profiles (and as many album pointers as fit) in one transaction; a large catalogue's
        # remaining pointers follow. Readers match a pointer's artist_did against the profile,
        # so a pointer written late or left behind never serves another artist's album.
        pointers = puts + deletes
        room = _MAX_TRANSACTION - len(head)
        self._transact(head + pointers[:room])
        return pointers[room:], pages, profiles

    def _transact_retrying(self, actions: list[dict[str, Any]]) -> None:
        """Unconditional writes: only a conflict with another transaction can cancel them."""
        for attempt in range(5):
            try:
                self._transact(actions)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException" or attempt == 4:
                    raise
                time.sleep(0.05 * 2**attempt)

    # ---- slugs ---------------------------------------------------------------------------

    def slug_owner(self, did: str, slug: str) -> str | None:
        out = self.client.get_item(TableName=self.table, Key=to_item(keys.slug_claim(did, slug)), ConsistentRead=True)
        item = out.get("Item")
        return str(from_item(item)["album_id"]) if item else None

    def claim_slug(self, did: str, handle: str, slug: str, album_id: str) -> bool:
        """Claim (artist, slug) for an album; True when it is (now or already) that album's."""
        try:
            self._transact(
                [
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item({**keys.slug_claim(did, slug), "album_id": album_id}),
                            "ConditionExpression": "attribute_not_exists(pk) OR album_id = :me",
                            "ExpressionAttributeValues": {":me": to_value(album_id)},
                        }
                    },
                    self._put({**keys.slug_pointer(handle, slug), "album_id": album_id, "artist_did": did}),
                ]
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise

    def release_slug(self, did: str, handle: str, slug: str, album_id: str) -> None:
        """Drop a claim (and its pointer) only while it is still this album's."""
        try:
            self._transact(
                [
                    self.delete_action(keys.slug_claim(did, slug), "album_id = :me", {":me": to_value(album_id)}),
                    self.delete_action(keys.slug_pointer(handle, slug), "album_id = :me", {":me": to_value(album_id)}),
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise

    # ---- albums --------------------------------------------------------------------------

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
        sets, removes, values, names = [], [], {}, {}
        for i, (name, value) in enumerate(attrs.items()):
            names[f"#a{i}"] = name
            if value is None:
                removes.append(f"#a{i}")
            else:
                sets.append(f"#a{i} = :v{i}")
                values[f":v{i}"] = to_value(value)
        expression = " ".join(
            p
            for p in ["SET " + ", ".join(sets) if sets else "", "REMOVE " + ", ".join(removes) if removes else ""]
            if p
        )
        params: dict[str, Any] = {
            "TableName": self.table,
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
            out = self.client.update_item(**params)
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                album_versions.check_refusal(self.get_album(album.id) if expected else None, expected)
                raise AlbumNotFound() from exc  # deleted meanwhile
            raise
        return Album.from_data(from_item(out["Attributes"])) if versioned else updated

    def finish_rename(self, album: Album, handle: str, title: str, slug: str, updated_at: str) -> Album:
        """The album takes its new title and slug; the old slug's claim and pointer go, in one
        transaction (the new claim was taken before anything was written elsewhere). An update,
        not a put: counters changed meanwhile by others are kept."""
        sort = keys.title_sort(title, album.id)
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": to_item(keys.album(album.id)),
                    "UpdateExpression": "SET title = :t, slug = :s, updated_at = :u, gsi1sk = :g1, gsi2sk = :g2",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {
                        ":t": to_value(title),
                        ":s": to_value(slug),
                        ":u": to_value(updated_at),
                        ":g1": to_value(sort),
                        ":g2": to_value(keys.album_by_artist_sort(sort)),
                    },
                }
            }
        ]
        if slug != album.slug:
            # Re-assert the new claim: a failed concurrent rename may have released it.
            actions.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item({**keys.slug_claim(album.artist_did, slug), "album_id": album.id}),
                        "ConditionExpression": "attribute_not_exists(pk) OR album_id = :me",
                        "ExpressionAttributeValues": {":me": to_value(album.id)},
                    }
                }
            )
            actions.append(
                self._put({**keys.slug_pointer(handle, slug), "album_id": album.id, "artist_did": album.artist_did})
            )
            # Already gone when a concurrent rename of this album finished first.
            actions.append(
                self.delete_action(
                    keys.slug_claim(album.artist_did, album.slug),
                    "attribute_not_exists(pk) OR album_id = :me",
                    {":me": to_value(album.id)},
                )
            )
            actions.append(
                self.delete_action(
                    keys.slug_pointer(handle, album.slug),
                    "attribute_not_exists(pk) OR album_id = :me",
                    {":me": to_value(album.id)},
                )
            )
            # The old slug redirects to the album; the new one is nobody's former slug any more.
            actions.append(self._put({**keys.former_slug(album.artist_did, album.slug), "album_id": album.id}))
            actions.append(self.delete_action(keys.former_slug(album.artist_did, slug)))
        try:
            self._transact(actions)
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                raise ConcurrentUpdate() from exc  # the album went, or the new slug was taken meanwhile
            raise
        if slug != album.slug:
            # Every earlier slug's cached redirect names the slug the album just left.
            for former in self.former_slugs(album.artist_did, album.id):
                invalidate_album_cache(handle, former)
        return Album.from_data({**asdict(album), "title": title, "slug": slug, "updated_at": updated_at})

    def drop_former_slugs(self, did: str, album_id: str) -> list[str]:
        """A deleted album's former slugs go (each only while it is still that album's); the slugs."""
        slugs = self.former_slugs(did, album_id)
        for slug in slugs:
            try:
                self.client.delete_item(
                    TableName=self.table,
                    Key=to_item(keys.former_slug(did, slug)),
                    ConditionExpression="album_id = :me",
                    ExpressionAttributeValues={":me": to_value(album_id)},
                )
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise
        return slugs

    def delete_album_items(self, album: Album, handle: str) -> None:
        self._transact(
            [
                self.delete_action(keys.album(album.id)),
                self.delete_action(
                    keys.slug_claim(album.artist_did, album.slug), "album_id = :me", {":me": to_value(album.id)}
                ),
                self.delete_action(keys.slug_pointer(handle, album.slug)),
            ]
        )

    # ---- tracks --------------------------------------------------------------------------

    def artist_tracks(self, did: str) -> list[Track]:
        items = self._query_all(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :p AND begins_with(gsi2sk, :s)",
            ExpressionAttributeValues={
                ":p": to_value(keys.artist_partition(did)),
                ":s": to_value(keys.TRACK_BY_ARTIST_PREFIX),
            },
        )
        return [Track.from_data(i) for i in items]

    def find_track(self, track_id: int) -> Track | None:
        items = self._query_all(
            IndexName="gsi3",
            KeyConditionExpression="gsi3pk = :p",
            ExpressionAttributeValues={":p": to_value(keys.track_lookup(track_id))},
        )
        return Track.from_data(items[0]) if items else None

    def _track_key(self, track: Track) -> dict[str, str]:
        if track.album_id:
            return keys.album_track(track.album_id, track.id)
        return keys.standalone_track(track.artist_did, track.id)

    def _track_item(self, track: Track) -> dict[str, Any]:
        return {
            **self._track_key(track),
            **asdict(track),
            **keys.track_index_attributes(track.artist_did, track.id, track.record_uri, track.created_at),
            "image_key": keys.image_key(track.image_id),
        }

    def put_track(self, track: Track, new: bool = False) -> dict[str, Any]:
        """A Put action of the track item where its album (or none) puts it; `new` makes it
        conditional on the item not being there (a replayed move fails instead of repeating)."""
        action = self._put(self._track_item(track))
        if new:
            action["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
        return action

    def delete_track_action(self, track: Track, must_exist: bool = False) -> dict[str, Any]:
        """A Delete action of the track item; `must_exist` fails the transaction when the track
        is no longer where it was read (moved or deleted meanwhile)."""
        return self.delete_action(self._track_key(track), "attribute_exists(pk)" if must_exist else None)

    # ---- the record guard: at most one track item per track record ---------------------------
    # Every write that creates a track item for a record takes the record's guard in the same
    # transaction, on the condition that it is free or names this very track; every deletion of
    # a track item deletes its guard. A writer refused by the guard uses the track it names.

    def guard_action(self, track: Track, stale: int | None = None) -> dict[str, Any]:
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
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(item),
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }

    def guard_key(self, track: Track) -> dict[str, str] | None:
        return keys.track_record_guard(track.artist_did, track.record_uri) if track.record_uri else None

    def guard_delete_actions(self, track: Track) -> list[dict[str, Any]]:
        """The Delete of the guard of a track item being deleted (none for a track without a
        record). Unconditional: a deletion is never refused for its guard."""
        key = self.guard_key(track)
        return [self.delete_action(key)] if key else []

    def record_holder(self, did: str, record_uri: str) -> tuple[int | None, Track | None]:
        """The track id the record's guard names (None: no guard) and that track's item (None:
        the item is gone, the guard is stale). The item is read consistently where it was
        created, else found by id in the track index (waiting a little for the index)."""
        found = self.client.get_item(
            TableName=self.table, Key=to_item(keys.track_record_guard(did, record_uri)), ConsistentRead=True
        ).get("Item")
        if found is None:
            return None, None
        guard = from_item(found)
        track_id = int(guard["track_id"])
        created_in = str(guard.get("created_in") or "-")
        key = keys.standalone_track(did, track_id) if created_in == "-" else keys.album_track(created_in, track_id)
        item = self.client.get_item(TableName=self.table, Key=to_item(key), ConsistentRead=True).get("Item")
        if item is not None:
            return track_id, Track.from_data(from_item(item))
        for wait in (0.0, *_GUARD_LOOKUP_WAITS):
            time.sleep(wait)
            track = self.find_track(track_id)
            if track is not None:
                return track_id, track
        return track_id, None

    def counter_action(self, album_id: str, tracks: int, plays: int, title: str | None = None) -> dict[str, Any]:
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
                "TableName": self.table,
                "Key": to_item(keys.album(album_id)),
                "UpdateExpression": expression,
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": values,
            }
        }

    def batch_write(self, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem in chunks of 25, retrying unprocessed items (each write is atomic on
        its own; used where no counter depends on the batch being whole)."""
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self.table: requests[start : start + 25]}
            for attempt in range(10):
                out = self.client.batch_write_item(RequestItems=pending)
                pending = out.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(0.02 * 2**attempt, 1.0))
            if pending:
                raise RuntimeError("DynamoDB kept items unprocessed")

    def release_tracks(self, tracks: list[Track], delete: bool, cids: dict[str, str | None]) -> None:
        """Tracks leave a (deleted) album: gone with `delete`, otherwise standalone with the
        CIDs their records got. Idempotent: the standalone item is written before the album's
        copy goes, so a run cut short is finished by the next one."""
        if not delete:
            self.batch_write(
                [
                    {
                        "PutRequest": {
                            "Item": to_item(
                                self._track_item(
                                    replace(t, album_id=None, record_cid=cids.get(t.record_uri or "") or t.record_cid)
                                )
                            )
                        }
                    }
                    for t in tracks
                ]
            )
            self.batch_write([{"DeleteRequest": {"Key": to_item(self._track_key(t))}} for t in tracks])
            return
        # Each track's record guard goes in the same BatchWriteItem as the track, once per
        # record: two items of one record (made before the guard) share it, and a call naming
        # one key twice is refused whole.
        groups: list[list[dict[str, Any]]] = []
        guarded: set[str] = set()
        for t in tracks:
            group = [{"DeleteRequest": {"Key": to_item(self._track_key(t))}}]
            if (key := self.guard_key(t)) and t.record_uri not in guarded:
                guarded.add(str(t.record_uri))
                group.append({"DeleteRequest": {"Key": to_item(key)}})
            groups.append(group)
        call: list[dict[str, Any]] = []
        for group in groups:
            if len(call) + len(group) > 25:
                self.batch_write(call)
                call = []
            call += group
        self.batch_write(call)

    # ---- track CIDs, written in transactions --------------------------------------------------
    # Each action SETs `record_cid` alone, on a track that is still where it was read: the
    # counters plays and likes ADD meanwhile are never overwritten (a batch of Puts would).
    # TransactWriteItems: 2 write units per KB of each item, against 1 for a lone UpdateItem.

    def artist_track_count(self, did: str, up_to: int) -> int:
        """The artist's track items, counted up to `up_to` (a Select=COUNT Query of the artist's
        track index, at most `_COUNT_PAGES` pages; a count cut short is `up_to`)."""
        params: dict[str, Any] = {
            "TableName": self.table,
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
            out = self.client.query(**params)
            count += int(out.get("Count", 0))
            if count >= up_to or not out.get("LastEvaluatedKey"):
                return min(count, up_to)
            params.update(ExclusiveStartKey=out["LastEvaluatedKey"], Limit=up_to - count)
        return up_to

    def set_track_cids(self, tracks: list[Track], cids: dict[str, str | None]) -> None:
        """Record the CIDs the PDS gave the tracks' records after a change: transactions of up to
        100 updates, each whole or not at all. A track moved or gone meanwhile is left out (the
        next indexing corrects it); a transaction cancelled by a conflicting one is tried again."""
        changed = [(t, cid) for t in tracks if (cid := cids.get(t.record_uri or "")) and cid != t.record_cid]
        for start in range(0, len(changed), _MAX_TRANSACTION):
            self._set_cids(changed[start : start + _MAX_TRANSACTION])

    def _set_cids(self, batch: list[tuple[Track, str]]) -> None:
        stalls = 0
        while batch:
            actions = [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": to_item(self._track_key(track)),
                        "UpdateExpression": "SET record_cid = :c",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":c": to_value(cid)},
                    }
                }
                for track, cid in batch
            ]
            try:
                self._transact(actions)
                return
            except ClientError as exc:
                if _code(exc) != "TransactionCanceledException":
                    raise
                refused = _refused(exc)
                if refused:  # those tracks moved or went: the others again
                    batch = [pair for i, pair in enumerate(batch) if i not in refused]
                    continue
                stalls += 1
                if stalls >= _CID_ATTEMPTS:
                    raise ConcurrentUpdate() from exc
                time.sleep(0.05 * 2**stalls)  # a conflicting transaction (TransactionConflict): later

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
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item(keys.album(album_id)),
                UpdateExpression="REMOVE gsi1pk, gsi1sk",
                ConditionExpression="attribute_exists(pk) AND track_count <= :z",
                ExpressionAttributeValues={":z": {"N": "0"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    # ---- track claims ----------------------------------------------------------------------
    # The album lease serializes the changes of one album, not of one track: two albums
    # attaching the same track would both pass. A claim item per track record names the one
    # album that may take it: "pending" (with a lease) from before the first PDS write, then
    # "member" in the very transaction that moves the track in.

    def _claim_condition_failed(self, exc: ClientError) -> bool:
        return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")

    def _holds(self, claim: dict[str, Any]) -> bool:
        """Whether a membership claim still describes the catalogue: its track is in its album
        (claims are not released when a track leaves, so a stale one is recognised here)."""
        if claim.get("track_id") is None:
            return False
        out = self.client.get_item(
            TableName=self.table,
            Key=to_item(keys.album_track(str(claim["album_id"]), int(claim["track_id"]))),
            ConsistentRead=True,
        )
        return "Item" in out

    def _pending_claim(self, did: str, album_id: str, uri: str, token: str, seconds: int) -> dict[str, Any]:
        """The Put of a pending claim: the record is free, this album's, or its claim lapsed."""
        now = int(time.time())
        item: dict[str, Any] = {
            **keys.track_claim(did, uri),
            "album_id": album_id,
            "record_uri": uri,
            "claim_state": "pending",
        }
        item.update(claim_token=token, claim_until=now + seconds)
        return {
            "TableName": self.table,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(pk) OR album_id = :me OR (#st = :p AND #u < :now)",
            "ExpressionAttributeNames": {"#st": "claim_state", "#u": "claim_until"},
            "ExpressionAttributeValues": {
                ":me": to_value(album_id),
                ":p": to_value("pending"),
                ":now": {"N": str(now)},
            },
        }

    def _claim_batch(self, did: str, album_id: str, uris: list[str], token: str, seconds: int) -> bool:
        """Up to 100 claims in one transaction: True when all were taken; False (none taken)
        when one is held (those are claimed one by one) or conflicting transactions persist."""
        for stalls in range(3):
            try:
                self._transact([{"Put": self._pending_claim(did, album_id, u, token, seconds)} for u in uris])
                return True
            except ClientError as exc:
                if _code(exc) != "TransactionCanceledException":
                    raise
                if _refused(exc):
                    return False
                time.sleep(0.05 * 2**stalls)  # a conflicting transaction: later
        return False

    def _claim_one(self, did: str, album_id: str, uri: str, token: str, seconds: int) -> bool:
        key = keys.track_claim(did, uri)
        for _ in range(3):
            put = self._pending_claim(did, album_id, uri, token, seconds)
            try:
                self.client.put_item(**put)
                return True
            except ClientError as exc:
                if not self._claim_condition_failed(exc):
                    raise
            found = self.client.get_item(TableName=self.table, Key=to_item(key), ConsistentRead=True).get("Item")
            if found is None:
                continue  # released meanwhile
            current = from_item(found)
            if current.get("claim_state") != "member" or self._holds(current):
                return False  # another album is attaching it, or has it
            try:  # a stale membership (the track left that album): take it over, exactly it
                self.client.put_item(
                    TableName=self.table,
                    Item=put["Item"],
                    ConditionExpression="album_id = :z AND #st = :m AND track_id = :t",
                    ExpressionAttributeNames={"#st": "claim_state"},
                    ExpressionAttributeValues={
                        ":z": to_value(current["album_id"]),
                        ":m": to_value("member"),
                        ":t": to_value(current["track_id"]),
                    },
                )
                return True
            except ClientError as exc:
                if not self._claim_condition_failed(exc):
                    raise
        return False

    def claim_tracks(self, did: str, album_id: str, uris: list[str], token: str, seconds: int) -> list[str]:
        """Claim track records for an album before anything is written for them. Returns the
        URIs another album holds or is attaching; when there are any, the claims taken here
        are released again and nothing is claimed."""
        one_by_one: list[str] = []
        for start in range(0, len(uris), _MAX_TRANSACTION):
            chunk = uris[start : start + _MAX_TRANSACTION]
            if not self._claim_batch(did, album_id, chunk, token, seconds):
                one_by_one += chunk
        won = [u not in one_by_one for u in uris]
        if one_by_one:
            with ThreadPoolExecutor(min(8, len(one_by_one))) as pool:
                slow = dict(
                    zip(
                        one_by_one,
                        pool.map(lambda u: self._claim_one(did, album_id, u, token, seconds), one_by_one),
                        strict=True,
                    )
                )
            won = [slow.get(u, True) for u in uris]
        lost = [u for u, ok in zip(uris, won, strict=True) if not ok]
        if lost:
            self.release_claims(did, album_id, [u for u, ok in zip(uris, won, strict=True) if ok], token)
        return lost

    def release_claims(self, did: str, album_id: str, uris: list[str], token: str) -> None:
        """Drop pending claims this request took (never a membership, never another's)."""
        for uri in uris:
            try:
                self.client.delete_item(
                    TableName=self.table,
                    Key=to_item(keys.track_claim(did, uri)),
                    ConditionExpression="album_id = :me AND #st = :p AND #tk = :t",
                    ExpressionAttributeNames={"#st": "claim_state", "#tk": "claim_token"},
                    ExpressionAttributeValues={
                        ":me": to_value(album_id),
                        ":p": to_value("pending"),
                        ":t": to_value(token),
                    },
                )
            except ClientError as exc:
                if not self._claim_condition_failed(exc):
                    raise

    def claim_membership_action(self, did: str, album_id: str, uri: str, track_id: int) -> dict[str, Any]:
        """The Update that turns this album's pending claim into the membership, in the
        transaction that moves the track in: it fails when the claim is not this album's."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": to_item(keys.track_claim(did, uri)),
                "UpdateExpression": "SET #st = :m, track_id = :id REMOVE #u, #tk",
                "ConditionExpression": "album_id = :me",
                "ExpressionAttributeNames": {"#st": "claim_state", "#u": "claim_until", "#tk": "claim_token"},
                "ExpressionAttributeValues": {
                    ":m": to_value("member"),
                    ":id": to_value(track_id),
                    ":me": to_value(album_id),
                },
            }
        }

    # ---- album lease -----------------------------------------------------------------------

    def lock_album(
        self, album_id: str, token: str, seconds: int, expected: frozenset[int] | None = None
    ) -> Album | None:
        """Take the album's lease for one multi-step change, adding one to its version (checked
        against `expected`, an If-Match, in the same write: 412 when it names another); returns
        the album as it stands under the lease (read by the same call), None while another holds it."""
        now = int(time.time())
        version_condition, version_values = album_versions.condition(expected)
        try:
            out = self.client.update_item(
                TableName=self.table,
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
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                album_versions.check_refusal(self.get_album(album_id) if expected else None, expected)
                return None
            raise

    def unlock_album(self, album_id: str, token: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item(keys.album(album_id)),
                UpdateExpression="REMOVE lock_token, lock_until",
                ConditionExpression="lock_token = :t",
                ExpressionAttributeValues={":t": to_value(token)},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # gone with the album, or the lease expired and passed on

    # ---- what the indexer, the cleanup and the sweep ask of the catalogue -------------------

    def album_tracks(self, album_id: str, limit: int | None = None) -> list[Track]:
        """The tracks in an album's partition (the next `limit` of them), read consistently:
        what a deleted album's cleanup has still to release."""
        params: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :t)",
            "ExpressionAttributeValues": {
                ":pk": to_value(keys.album_partition(album_id)),
                ":t": to_value(keys.TRACK_PREFIX),
            },
            "ConsistentRead": True,
        }
        if limit is None:
            return [Track.from_data(i) for i in self._query_all(**params)]
        out = self.client.query(TableName=self.table, Limit=limit, **params)
        return [Track.from_data(from_item(i)) for i in out.get("Items", [])]

    def image_in_use(self, image_id: str) -> bool:
        """Whether an album or a track refers to the image (by the eventually consistent
        by_image index: a reference just dropped may still show, one just made may not yet)."""
        out = self.client.query(
            TableName=self.table,
            IndexName="by_image",
            KeyConditionExpression="image_key = :k",
            ExpressionAttributeValues={":k": to_value(keys.image_key(image_id))},
            Limit=1,
            Select="COUNT",
        )
        return int(out.get("Count", 0)) > 0

    def mark_synced(self, did: str, stamp: str, must_exist: bool = True) -> None:
        """Note when the artist's repository was last indexed; ArtistNotFound when `must_exist`
        and the artist is not in the catalogue."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "Key": to_item(keys.artist(did)),
            "UpdateExpression": "SET synced_at = :n",
            "ExpressionAttributeValues": {":n": to_value(stamp)},
        }
        if must_exist:
            params["ConditionExpression"] = "attribute_exists(pk)"
        try:
            self.client.update_item(**params)
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise ArtistNotFound() from exc
            raise

    def mark_over_record_cap(self, did: str, collections: list[str], stamp: str) -> None:
        """Note that the artist's repository lists more records of `collections` than an
        indexing reads (PDS_LIST_MAX_RECORDS): what is past the cap is not in the catalogue."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=to_item(keys.artist(did)),
                UpdateExpression="SET over_record_cap = :c, over_record_cap_at = :n",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":c": to_value(collections), ":n": to_value(stamp)},
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise  # an artist gone meanwhile has nothing to mark

    def remove_track(self, track: Track) -> None:
        """The track item goes (its record is gone from the PDS), and its record guard with it."""
        self._transact([self.delete_track_action(track), *self.guard_delete_actions(track)])

    def save_track(self, track: Track, replaces: Track | None = None) -> None:
        """Write an indexed track where its album (or none) puts it, and drop the item it
        `replaces` when that lived elsewhere (another album, or standalone), in one transaction.
        Into an album only while the album exists: ConcurrentUpdate when it is gone (or when
        another write got in the way); the caller tells the two apart.

        Without `replaces` the track is new: it takes its record's guard in the same
        transaction, and when another track holds the record (created meanwhile by another
        writer) nothing is written and RecordHeld names that track."""
        stale: int | None = None
        for _ in range(_GUARD_ATTEMPTS):
            actions = [self.put_track(track)]
            if replaces is not None and self._track_key(replaces) != self._track_key(track):
                actions.insert(0, self.delete_track_action(replaces))
            guard_at = len(actions) if replaces is None and track.record_uri is not None else None
            if guard_at is not None:
                actions.append(self.guard_action(track, stale))
            if track.album_id:
                actions.append(
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": to_item(keys.album(track.album_id)),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    }
                )
            try:
                self._transact(actions)
                return
            except ClientError as exc:
                if _code(exc) not in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                    raise
                if guard_at is None or guard_at not in _refused(exc):
                    raise ConcurrentUpdate() from exc
                assert track.record_uri
                held_by, holder = self.record_holder(track.artist_did, track.record_uri)
                if holder is not None:
                    raise RecordHeld(holder) from exc
                stale = held_by  # its track is gone: taken over from that id (or free again)
        raise ConcurrentUpdate()

    # ---- tracks applied one record at a time (the firehose consumer) --------------------------

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
                actions: list[dict[str, Any]] = []
                guards: dict[int, int] = {}  # action position -> track position
                for i in chunk:
                    actions.append(self.put_track(tracks[i]))
                    if tracks[i].record_uri:
                        guards[len(actions)] = i
                        actions.append(self.guard_action(tracks[i], stale.get(i)))
                try:
                    self._transact(actions)
                except ClientError as exc:
                    if _code(exc) != "TransactionCanceledException":
                        raise
                    refused = {guards[p] for p in _refused(exc) if p in guards}
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
                    continue
                held.update((i, tracks[i]) for i in chunk)
                settled = True
            pending = again
            if pending and not settled:
                stalls += 1
                if stalls >= _GUARD_ATTEMPTS:
                    raise ConcurrentUpdate()
        return [held[i] for i in range(len(tracks))]

    def update_track_record(self, before: Track, after: Track) -> bool:
        """The fields `after`'s record determines (and the index keys they feed), written in
        place on `before`'s item only while it is still there holding `before`'s record
        version: counters, album and ids are left as the item has them. False when the item
        moved, went, or another write changed its record meanwhile."""
        item = to_item(self._track_item(after))
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
            self.client.update_item(
                TableName=self.table,
                Key=to_item(self._track_key(before)),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def drop_track(self, track: Track) -> bool:
        """A track whose record is gone: its item and its record guard go, and its album's
        counters drop, in one transaction. False when the item is not where it was read (moved
        or gone)."""
        actions = [self.delete_track_action(track, must_exist=True), *self.guard_delete_actions(track)]
        if track.album_id:
            actions.append(self.counter_action(track.album_id, -1, -track.play_count))
        try:
            if len(actions) == 1:
                self.client.delete_item(
                    TableName=self.table,
                    Key=to_item(self._track_key(track)),
                    ConditionExpression="attribute_exists(pk)",
                )
            else:
                self._transact(actions)
        except ClientError as exc:
            if _code(exc) in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                return False
            raise
        return True

    def detach_tracks(self, tracks: list[Track]) -> list[Track]:
        """Tracks leave their album and become standalone (each move a delete and a put in one
        transaction; 49 moves per transaction). Returns the moved tracks."""
        moved = [replace(t, album_id=None) for t in tracks]
        actions: list[dict[str, Any]] = []
        for before, after in zip(tracks, moved, strict=True):
            actions.append(self.delete_track_action(before))
            actions.append(self.put_track(after))
        self.transact_in_batches(actions, 98)
        return moved

    # ---- membership, as the album's mutations change it ---------------------------------------

    def move_tracks_into(self, album: Album, moves: list[tuple[Track | None, Track]]) -> None:
        """Each (the track's item where it was, or None; the track in `album`) moves in with
        its membership claim and the album's counters, a few per transaction.

        A track created here (None) takes its record's guard in the same transaction. Other
        writers may change the records' tracks meanwhile (the firehose consumer creating them,
        the indexer following the list record the attach just wrote and moving them in): a
        move refused for that is made again from where the record's track is now (already in
        the album: only its membership), so a record never gets a second item and a move that
        another writer made is no failure. `TrackTaken` only when another album holds a track
        (or its claim lapsed and another album took it)."""
        for start in range(0, len(moves), _MOVES_PER_TRANSACTION):
            self._move_batch(album, moves[start : start + _MOVES_PER_TRANSACTION])

    def _move_batch(self, album: Album, batch: list[tuple[Track | None, Track]]) -> None:
        stale: dict[int, int | None] = {}
        # A round whose refusals change a move (another writer's change found) is progress:
        # another writer may change the records' tracks one by one for as long as the batch
        # has moves. Only rounds that change nothing (a conflicting transaction) are retries.
        stalls = rounds = 0
        while True:
            rounds += 1
            actions: list[dict[str, Any]] = []
            owner: dict[int, int] = {}  # action position -> move position
            claims: set[int] = set()  # positions of the membership claims
            count = plays = 0
            for j, (known, track) in enumerate(batch):
                if known is None or self._track_key(known) != self._track_key(track):
                    if known is not None:
                        owner[len(actions)] = j
                        actions.append(self.delete_track_action(known, must_exist=True))
                    owner[len(actions)] = j
                    actions.append(self.put_track(track, new=True))
                    if known is None and track.record_uri:
                        owner[len(actions)] = j
                        actions.append(self.guard_action(track, stale.get(j)))
                    count, plays = count + 1, plays + track.play_count
                if track.record_uri:
                    claims.add(len(actions))
                    actions.append(self.claim_membership_action(album.artist_did, album.id, track.record_uri, track.id))
            actions.append(self.counter_action(album.id, count, plays, album.title))
            try:
                self._transact(actions)
                return
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                refused = _refused(exc)
                if refused & claims:
                    raise TrackTaken() from exc  # the claim is another album's now
                before = (list(batch), dict(stale))
                for j in sorted({owner[p] for p in refused if p in owner}):
                    batch[j] = self._resettled(album, batch[j], stale, j)
                if (batch, stale) == before:
                    stalls += 1
                    if stalls >= _GUARD_ATTEMPTS:
                        raise ConcurrentUpdate() from exc
                    time.sleep(0.05 * 2**stalls)  # a conflicting transaction: later
                elif rounds > _GUARD_ATTEMPTS + 3 * len(batch):
                    raise ConcurrentUpdate() from exc  # never endless, whatever the others do

    def _resettled(
        self, album: Album, move: tuple[Track | None, Track], stale: dict[int, int | None], j: int
    ) -> tuple[Track | None, Track]:
        """A refused move made again from where its record's track is now: already in `album`
        (moved in by another writer: nothing to move, its membership only), elsewhere (moved
        from there), or nowhere (created, taking over a guard whose track is gone)."""
        known, track = move
        assert track.record_uri
        here = self.client.get_item(
            TableName=self.table, Key=to_item(keys.album_track(album.id, track.id)), ConsistentRead=True
        ).get("Item")
        if here is not None:
            arrived = Track.from_data(from_item(here))
            return arrived, arrived
        held_by, holder = self.record_holder(album.artist_did, track.record_uri)
        if holder is None and held_by is None and known is not None:
            holder = self.find_track(known.id)  # a track from before the record guards
        if holder is None:
            stale[j] = held_by
            return None, track
        if holder.album_id not in (None, album.id):
            raise TrackTaken()  # another album has it (the indexer followed another list)
        return holder, replace(onto_existing(track, holder), album_id=album.id)

    def detach_track(self, album_id: str, track: Track, standalone: Track) -> None:
        """The album's `track` becomes `standalone` (no album) and the album's counters drop,
        in one transaction."""
        self._transact(
            [
                self.delete_track_action(track),
                self.put_track(standalone),
                self.counter_action(album_id, -1, -track.play_count),
            ]
        )
