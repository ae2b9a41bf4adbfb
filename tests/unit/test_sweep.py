"""The sweep's decisions on in-memory stand-ins of its adapters (the cover store's listing, the
sweep store, the catalogue's image index): which objects go, where a bounded run stops and the
next one goes on, and which artists are indexed again. The AWS side is in
tests/integration/test_cleanup.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from albums_core.adapters.s3_covers import StoredObject
from albums_core.domain.models import Artist
from albums_core.services.sweep import GRACE, Sweep

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OLD = NOW - GRACE - timedelta(minutes=1)
FRESH = NOW - GRACE + timedelta(minutes=1)


class Bucket:
    """Objects by key with their time; pages in key order, the cursor the last key returned."""

    def __init__(self, objects: dict[str, datetime]) -> None:
        self.objects = dict(objects)
        self.deleted: list[str] = []

    def list_page(self, prefix: str, limit: int, cursor: str | None) -> tuple[list[StoredObject], str | None]:
        names = sorted(k for k in self.objects if k.startswith(prefix) and (cursor is None or k > cursor))
        page = names[:limit]
        more = len(names) > limit
        return [StoredObject(k, self.objects[k]) for k in page], (page[-1] if more else None)

    def delete_keys(self, object_keys: list[str]) -> None:
        for key in object_keys:
            self.objects.pop(key)
            self.deleted.append(key)


class Store:
    def __init__(self, artists: list[Artist] | None = None) -> None:
        self.state: dict[str, Any] = {}
        self.saved = 0
        self.artists = artists or []
        self.expired_calls: list[tuple[str, str, str | None]] = []

    def load_state(self) -> dict[str, Any]:
        return dict(self.state)

    def save_state(self, state: dict[str, Any]) -> None:
        self.state = dict(state)
        self.saved += 1

    def delete_expired(
        self, table: str, key: str, now: float, limit: int, cursor: str | None
    ) -> tuple[int, str | None]:
        self.expired_calls.append((table, key, cursor))
        return (2, "next") if cursor is None else (1, None)

    def stale_artists(self, synced_before: str, limit: int, cursor: Any) -> tuple[list[Artist], Any]:
        return self.artists[:limit], None


class Catalogue:
    def __init__(self, referenced: set[str]) -> None:
        self.referenced = referenced
        self.lookups: list[str] = []
        self.synced: list[tuple[str, str, bool]] = []

    def image_in_use(self, image_id: str) -> bool:
        self.lookups.append(image_id)
        return image_id in self.referenced

    def mark_synced(self, did: str, stamp: str, must_exist: bool = True) -> None:
        self.synced.append((did, stamp, must_exist))


def image(n: int) -> str:
    return f"{n:032x}"


def cover_keys(n: int) -> list[str]:
    return [f"images/{image(n)}.png", f"images/{image(n)}-96.webp"]


class Indexing:
    """The re-indexing of stale artists: `sync` stands for the indexer's run."""

    def __init__(self, sync: Any = None) -> None:
        self.sync = sync

    def sync_artist(self, artist: Artist) -> dict[str, int]:
        assert self.sync is not None, "this test indexes nobody"
        return self.sync(artist)  # type: ignore[no-any-return]


def sweep(bucket: Bucket, store: Store, catalogue: Catalogue, budget: int = 500, indexing: Any = None) -> Sweep:
    return Sweep(NOW, budget, repo=catalogue, objects=bucket, store=store, indexing=indexing or Indexing())


def test_old_unreferenced_covers_and_abandoned_uploads_go_the_rest_stays() -> None:
    objects = dict.fromkeys(cover_keys(1) + cover_keys(2), OLD)  # 1 unreferenced, 2 referenced
    objects |= dict.fromkeys(cover_keys(3), FRESH)  # unreferenced but within the grace period
    objects |= {"images/not-a-cover.txt": OLD, "uploads/a/old": OLD, "uploads/a/new": FRESH}
    bucket, catalogue = Bucket(objects), Catalogue({image(2)})
    report = sweep(bucket, Store(), catalogue).run()
    assert sorted(bucket.deleted) == sorted([*cover_keys(1), "uploads/a/old"])
    assert report["covers_deleted"] == 2 and report["uploads_deleted"] == 1
    # One index lookup per image, not per object.
    assert sorted(catalogue.lookups) == [image(1), image(2)]


def test_a_bounded_run_stops_where_the_next_one_goes_on() -> None:
    bucket = Bucket({k: OLD for n in (1, 2, 3) for k in cover_keys(n)})
    store, catalogue = Store(), Catalogue(set())
    first = sweep(bucket, store, catalogue, budget=4).run()
    assert first["covers_deleted"] == 4
    assert store.state["covers_cursor"] is not None
    second = sweep(bucket, store, catalogue, budget=4).run()
    assert second["covers_deleted"] == 2
    assert store.state["covers_cursor"] is None and bucket.objects == {}


def test_ttl_stragglers_of_both_tables_are_swept_page_by_page() -> None:
    store = Store()
    first = sweep(Bucket({}), store, Catalogue(set())).run()
    assert (first["cache_items_deleted"], first["sessions_deleted"]) == (2, 2)
    assert {call[1] for call in store.expired_calls} == {"cache_key", "session_key"}
    assert store.state["cache_cursor"] == store.state["sessions_cursor"] == "next"
    second = sweep(Bucket({}), store, Catalogue(set())).run()
    assert (second["cache_items_deleted"], second["sessions_deleted"]) == (1, 1)
    assert store.state["cache_cursor"] is None


def test_stale_artists_are_indexed_again_and_one_failure_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    artists = [
        Artist(did="did:plc:a", handle="a.test", display_name="x", pds_url="https://pds.example"),
        Artist(did="did:plc:b", handle="b.test", display_name="x", pds_url="https://down.example"),
        Artist(did="did:plc:c", handle="c.test", display_name="x", pds_url=None),
        Artist(did="did:plc:d", handle="d.test", display_name="x", pds_url="https://pds.example"),
    ]
    indexed: list[str] = []

    def sync_artist(artist: Artist) -> dict[str, int]:
        if artist.pds_url == "https://down.example":
            raise ConnectionError("down")
        indexed.append(artist.did)
        return {}

    catalogue = Catalogue(set())
    report = sweep(Bucket({}), Store(artists), catalogue, indexing=Indexing(sync_artist)).run()
    assert indexed == ["did:plc:a", "did:plc:d"]
    assert report["artists_resynced"] == 2
    assert catalogue.synced == [(d, NOW.isoformat(), False) for d in indexed]
