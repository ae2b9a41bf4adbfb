import os
import time

import pytest

from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from albums_core.adapters.dynamodb.page_cache import (
    AlbumPageCache,
    album_cache_key,
    invalidate_album_cache,
    invalidate_album_cache_by_id,
    now_ms,
)
from tests.integration.factory import make_album, make_artist

KEY = album_cache_key("Alice.Test", "Some-Album")


@pytest.fixture
def cache(aws_env: None) -> AlbumPageCache:
    return AlbumPageCache()


def raw(cache: AlbumPageCache) -> dict:
    return cache.client.get_item(TableName=cache.table, Key={"cache_key": {"S": KEY}}).get("Item", {})


def test_key_is_case_insensitive() -> None:
    assert album_cache_key("alice.test", "some-album") == KEY


def test_round_trip_with_ttl_attribute(cache: AlbumPageCache) -> None:
    before = int(time.time())
    assert cache.put(KEY, '{"a":1}', now_ms())
    after = int(time.time())
    assert cache.get(KEY) == '{"a":1}'
    # The TTL from the moment of the write (bounded by clock reads around it, not by a margin).
    expires = int(raw(cache)["expires_at"]["N"])
    assert before + cache.ttl <= expires <= after + cache.ttl


def test_expired_item_still_in_the_table_is_a_miss(cache: AlbumPageCache) -> None:
    cache.client.put_item(
        TableName=cache.table,
        Item={"cache_key": {"S": KEY}, "expires_at": {"N": str(int(time.time()) - 1)}, "body": {"S": "{}"}},
    )
    assert cache.get(KEY) is None


@pytest.mark.parametrize(
    "item",
    [
        {"expires_at": {"S": "soon"}, "body": {"S": "{}"}},
        {"body": {"S": "{}"}},
        {"expires_at": {"N": "99999999999"}, "body_z": {"B": b"not zlib"}},
        {"expires_at": {"N": "99999999999"}},
    ],
)
def test_corrupt_items_are_misses(cache: AlbumPageCache, item: dict) -> None:
    cache.client.put_item(TableName=cache.table, Item={"cache_key": {"S": KEY}, **item})
    assert cache.get(KEY) is None


def test_large_pages_are_compressed(cache: AlbumPageCache) -> None:
    body = '{"tracks":[' + ",".join(f'{{"id":{i},"title":"track number {i}"}}' for i in range(20000)) + "]}"
    assert len(body) > 400_000
    assert cache.put(KEY, body, now_ms())
    assert "body_z" in raw(cache)
    assert cache.get(KEY) == body


def test_pages_too_large_even_compressed_are_skipped_without_error(cache: AlbumPageCache) -> None:
    body = os.urandom(450_000).hex()
    assert cache.put(KEY, body, now_ms()) is False
    assert cache.get(KEY) is None


def test_a_page_read_before_an_invalidation_is_not_cached_after_it(cache: AlbumPageCache) -> None:
    read_started = now_ms()
    time.sleep(0.005)
    cache.invalidate(KEY)  # the writer changed the album while the reader was reading
    assert cache.put(KEY, '{"stale":true}', read_started) is False
    assert cache.get(KEY) is None
    time.sleep(0.005)
    assert cache.put(KEY, '{"fresh":true}', now_ms())
    assert cache.get(KEY) == '{"fresh":true}'


def test_invalidation_helpers_never_raise(cache: AlbumPageCache) -> None:
    broken = AlbumPageCache(table="no-such-table")
    invalidate_album_cache("alice.test", "x", broken)
    invalidate_album_cache_by_id("no-such-id")
    invalidate_album_cache_by_id("\x00" * 5000)


def test_invalidate_by_id(cache: AlbumPageCache) -> None:
    repo = CatalogueRepository()
    artist = make_artist(repo)
    album, _ = make_album(repo, artist, "Cached", tracks=1)
    key = album_cache_key(artist.handle, album.slug)
    # Stored and served first: otherwise the None below would prove nothing.
    assert cache.put(key, "{}", now_ms()) is True
    assert cache.get(key) == "{}"
    invalidate_album_cache_by_id(album.id)
    assert cache.get(key) is None


def test_a_page_over_a_read_unit_is_stored_compressed_under_one(cache: AlbumPageCache) -> None:
    """A hit of an eventually consistent GetItem costs half a read unit per 4 KB: a 6 KB page
    stored plain would cost a whole one on every hit."""
    body = '{"tracks":[' + ",".join(f'{{"id":{i},"title":"track number {i}"}}' for i in range(200)) + "]}"
    assert 5_000 < len(body) < 10_000
    assert cache.put(KEY, body, now_ms())
    item = raw(cache)
    assert "body_z" in item and len(item["body_z"]["B"]) < 3_500
    assert cache.get(KEY) == body
