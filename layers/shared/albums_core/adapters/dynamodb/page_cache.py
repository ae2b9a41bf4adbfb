"""Album-page cache in a DynamoDB table with a TTL attribute.

DynamoDB removes expired items late (up to days), so every read checks `expires_at` itself.
Invalidation leaves a tombstone stamped with the time it was written instead of deleting the
entry: a reader that loaded the album before that moment cannot put its (stale) page back,
because its write is conditional on the tombstone being older than its own read.
"""

from __future__ import annotations

import time
import zlib
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.table import BATCH_WRITE_MAX, Table
from albums_core.config import settings
from albums_core.domain.models import Album, Artist
from albums_core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A DynamoDB item holds 400 KB; leave room for the key and the other attributes. A page over
# 3,500 bytes is stored compressed (JSON shrinks about 4x): a cache hit then reads one item under
# 4 KB, half a read unit, where a 5 KB page read plain is a whole one (bench section 10).
_PLAIN_LIMIT = 3_500
_ITEM_LIMIT = 380_000


def album_cache_key(handle: str, slug: str) -> str:
    return keys.album_page(handle, slug)


def artist_cache_keys(did: str, handle: str) -> list[str]:
    """The cached profiles of one artist item: by its handle and by its DID."""
    return [keys.artist_page_by_handle(handle), keys.artist_page_by_did(did)]


def artist_handle_cache_key(handle: str) -> str:
    return keys.artist_page_by_handle(handle)


def artist_did_cache_key(did: str) -> str:
    return keys.artist_page_by_did(did)


class AlbumLookup(Protocol):
    def get_album(self, album_id: str) -> Album | None: ...
    def get_artist(self, did: str) -> Artist | None: ...


class _CatalogueLookup:
    """The two reads an invalidation by id needs, straight from the catalogue table: the
    catalogue's adapter invalidates pages itself, so this module must not import it."""

    def __init__(self) -> None:
        self.db = Table(settings().catalogue_table)

    def get_album(self, album_id: str) -> Album | None:
        item = self.db.get(keys.album(album_id), consistent=True)
        return Album.from_data(item) if item else None

    def get_artist(self, did: str) -> Artist | None:
        item = self.db.get(keys.artist(did))
        return Artist.from_data(item) if item else None


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class AlbumPageCache:
    def __init__(
        self, table: str | None = None, ttl_seconds: int | None = None, client: DynamoDBClient | None = None
    ) -> None:
        self.table = table or settings().cache_table
        self.ttl = ttl_seconds if ttl_seconds is not None else settings().cache_ttl_seconds
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        return self._client or dynamodb()

    # The cache's keys, as the services name pages.
    def album_key(self, handle: str, slug: str) -> str:
        return album_cache_key(handle, slug)

    def artist_handle_key(self, handle: str) -> str:
        return artist_handle_cache_key(handle)

    def artist_did_key(self, did: str) -> str:
        return artist_did_cache_key(did)

    def get(self, key: str) -> str | None:
        """The cached body, or None on a miss, an expired entry, a tombstone or a corrupt item."""
        try:
            item = self.client.get_item(TableName=self.table, Key={"cache_key": {"S": key}}).get("Item")
        except ClientError:
            logger.warning("cache read failed", extra={"cache_key": key}, exc_info=True)
            return None
        if not item:
            return None
        try:
            if int(item["expires_at"]["N"]) <= time.time():
                return None
            if "body" in item:
                return str(item["body"]["S"])
            if "body_z" in item:
                return zlib.decompress(item["body_z"]["B"]).decode("utf-8")
        except (KeyError, ValueError, TypeError, zlib.error, UnicodeDecodeError):
            logger.warning("corrupt cache item ignored", extra={"cache_key": key})
        return None

    def put(self, key: str, body: str, read_started_ms: int) -> bool:
        """Store a page read from the database at `read_started_ms`. Refused (False) when an
        invalidation happened after that read, or when the page is too large even compressed."""
        raw = body.encode("utf-8")
        attr: dict[str, Any]
        if len(raw) <= _PLAIN_LIMIT:
            attr = {"body": {"S": body}}
        else:
            packed = zlib.compress(raw, 6)
            if len(packed) > _ITEM_LIMIT:
                logger.info("album page too large to cache", extra={"cache_key": key, "bytes": len(raw)})
                return False
            attr = {"body_z": {"B": packed}}
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "cache_key": {"S": key},
                    "expires_at": {"N": str(int(time.time()) + self.ttl)},
                    "written_at": {"N": str(now_ms())},
                    **attr,
                },
                ConditionExpression="attribute_not_exists(invalidated_at) OR invalidated_at < :r",
                ExpressionAttributeValues={":r": {"N": str(read_started_ms)}},
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                logger.warning("cache write failed", extra={"cache_key": key}, exc_info=True)
            return False

    def invalidate(self, key: str) -> None:
        """Replace the entry with a tombstone. Never raises."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "cache_key": {"S": key},
                    "invalidated_at": {"N": str(now_ms())},
                    "expires_at": {"N": str(int(time.time()) + self.ttl)},
                },
            )
        except Exception:  # noqa: BLE001 - invalidation must never break the caller
            logger.warning("cache invalidation failed", extra={"cache_key": key}, exc_info=True)

    def invalidate_many(self, cache_keys: list[str]) -> None:
        """Tombstones for these keys in BatchWriteItem requests of 25 (one for a firehose
        batch's pages, where a PutItem each was most of a batch of likes). Never raises."""
        cache_keys = sorted(set(cache_keys))  # a key twice in one BatchWriteItem is refused
        expires = str(int(time.time()) + self.ttl)
        stamp = str(now_ms())
        items = [
            {"cache_key": {"S": k}, "invalidated_at": {"N": stamp}, "expires_at": {"N": expires}} for k in cache_keys
        ]
        table = Table(self.table, self._client)
        for start in range(0, len(items), BATCH_WRITE_MAX):
            chunk = items[start : start + BATCH_WRITE_MAX]
            try:
                table.batch_write([{"PutRequest": {"Item": item}} for item in chunk])
            except Exception:  # noqa: BLE001 - invalidation must never break the caller
                # A role without BatchWriteItem on the cache (a template older than this code),
                # or throttled past the retries: this chunk's keys one PutItem each, as before.
                keys = [item["cache_key"]["S"] for item in chunk]
                logger.warning("cache invalidation in one request failed", extra={"cache_keys": keys}, exc_info=True)
                for key in keys:
                    self.invalidate(key)


def invalidate_album_cache(handle: str, slug: str, cache: AlbumPageCache | None = None) -> None:
    """Drop the cached page of one album. Never raises."""
    try:
        (cache or AlbumPageCache()).invalidate(album_cache_key(handle, slug))
    except Exception:  # noqa: BLE001
        logger.warning("cache invalidation failed", exc_info=True)


def invalidate_album_cache_by_id(
    album_id: str, cache: AlbumPageCache | None = None, repo: AlbumLookup | None = None
) -> None:
    """Look up the album's handle and slug, then drop its cached page. Never raises."""
    try:
        repository = repo or _CatalogueLookup()
        album = repository.get_album(album_id)
        if album is None:
            return
        artist = repository.get_artist(album.artist_did)
        if artist is None:
            return
        invalidate_album_cache(artist.handle, album.slug, cache)
    except Exception:  # noqa: BLE001
        logger.warning("cache invalidation by id failed", extra={"album_id": album_id}, exc_info=True)


def invalidate_artist_cache(artists: set[tuple[str, str]], cache: AlbumPageCache | None = None) -> None:
    """Drop the cached profiles of (did, handle) pairs. Never raises."""
    try:
        target = cache or AlbumPageCache()
        for did, handle in sorted(artists):
            for key in artist_cache_keys(did, handle):
                target.invalidate(key)
    except Exception:  # noqa: BLE001
        logger.warning("cache invalidation failed", exc_info=True)
