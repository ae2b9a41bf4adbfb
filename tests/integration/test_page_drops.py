"""The firehose's album-page drops against moto: pages dropped under the album's slug as it is
now (a rename since it was held), the batch's albums read together."""

from __future__ import annotations

from typing import Any

from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository
from albums_core.adapters.dynamodb.codec import to_item
from albums_core.adapters.dynamodb.page_cache import AlbumPageCache, now_ms
from albums_core.adapters.dynamodb.page_drops import AlbumPageDrops
from tests.integration.factory import make_album, make_artist


class Counting:
    """The catalogue's client, its calls counted by operation."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if callable(attribute) and not name.startswith("_") and name != "meta":
            self.calls.append(name)
        return attribute


def test_the_batchs_albums_are_read_together_and_dropped_under_their_current_slugs(repo: CatalogueRepository) -> None:
    artist = make_artist(repo, "drops.test")
    first, _ = make_album(repo, artist, "First")
    second, _ = make_album(repo, artist, "Second")
    # Renamed since the consumer held it: the page under its new slug is cached.
    repo.client.update_item(
        TableName=repo.table,
        Key=to_item(keys.album(second.id)),
        UpdateExpression="SET slug = :s",
        ExpressionAttributeValues={":s": {"S": "renamed"}},
    )
    cache = AlbumPageCache()
    for slug in ("first", "renamed"):
        assert cache.put(cache.album_key(artist.handle, slug), "<page>", now_ms() - 1_000)
    counting = Counting(repo.client)
    drops = AlbumPageDrops(CatalogueRepository(repo.table, counting), cache)
    drops.drop_many(set(), {first.id: artist.handle, second.id: artist.handle, "gone": artist.handle})
    assert counting.calls == ["batch_get_item"]  # one read for the batch, no artist read
    assert cache.get(cache.album_key(artist.handle, "first")) is None
    assert cache.get(cache.album_key(artist.handle, "renamed")) is None


def test_a_failed_read_drops_nothing_and_raises_nothing(repo: CatalogueRepository) -> None:
    class Failing(Counting):
        def batch_get_item(self, **params: Any) -> Any:
            raise RuntimeError("DynamoDB unavailable")

    drops = AlbumPageDrops(CatalogueRepository(repo.table, Failing(repo.client)), AlbumPageCache())
    drops.drop_many(set(), {"a": "h.test"})


def test_pages_known_by_slug_and_by_id_are_dropped_in_one_write(repo: CatalogueRepository) -> None:
    artist = make_artist(repo, "many.test")
    first, _ = make_album(repo, artist, "First")
    cache = AlbumPageCache()
    for slug in ("first", "second", "third"):
        assert cache.put(cache.album_key(artist.handle, slug), "<page>", now_ms() - 1_000)
    writes = Counting(cache.client)
    drops = AlbumPageDrops(repo, AlbumPageCache(client=writes))  # type: ignore[arg-type]
    drops.drop_many({(artist.handle, "second"), (artist.handle, "third")}, {first.id: artist.handle})
    assert writes.calls == ["batch_write_item"]  # one write for the batch's pages, not one each
    for slug in ("first", "second", "third"):
        assert cache.get(cache.album_key(artist.handle, slug)) is None
        # A tombstone: a page read before the drop cannot be put back.
        assert not cache.put(cache.album_key(artist.handle, slug), "<stale>", now_ms() - 1_000)


def test_pages_are_dropped_one_by_one_when_the_write_in_one_request_is_refused(repo: CatalogueRepository) -> None:
    class Refusing(Counting):
        def batch_write_item(self, **params: Any) -> Any:
            raise RuntimeError("not authorized to perform: dynamodb:BatchWriteItem")

    cache = AlbumPageCache()
    for slug in ("first", "second"):
        assert cache.put(cache.album_key("h.test", slug), "<page>", now_ms() - 1_000)
    refusing = Refusing(cache.client)
    drops = AlbumPageDrops(repo, AlbumPageCache(client=refusing))  # type: ignore[arg-type]
    drops.drop_many({("h.test", "first"), ("h.test", "second")}, {})
    assert refusing.calls == ["put_item", "put_item"]  # after the refused BatchWriteItem
    assert (
        cache.get(cache.album_key("h.test", "first")) is None and cache.get(cache.album_key("h.test", "second")) is None
    )
