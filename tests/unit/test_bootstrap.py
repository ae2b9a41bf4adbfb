"""The composition root (albums_core.bootstrap): each adapter is built once per container and
shared by the services it wires; `reset` forgets them; service entry points are traced only
when tracing is on. Building opens no connection (tests/unit forbids one)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.domain.models import Artist
from albums_core.domain.sessions import Session, Tokens
from albums_core.services.auth import Caller


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    bootstrap.reset()
    yield
    bootstrap.reset()


def test_each_adapter_is_built_once_and_shared_by_the_services() -> None:
    catalogue, cache = bootstrap.catalogue(), bootstrap.page_cache()
    assert bootstrap.catalogue() is catalogue and bootstrap.page_cache() is cache
    assert bootstrap.auth().repo is catalogue and bootstrap.album_pages().repo is catalogue
    assert bootstrap.album_pages().cache is cache and bootstrap.artist_profiles().cache is cache
    assert bootstrap.indexing().repo is catalogue and bootstrap.stream_events().indexing is bootstrap.indexing()
    assert bootstrap.auth().parked is bootstrap.cleanup() and bootstrap.cleanup().jobs is bootstrap.jobs()
    caller = Caller(
        Session("s" * 32, "did:plc:a", "a.test", "https://pds.example", Tokens("a", "r"), 2**31),
        Artist(did="did:plc:a", handle="a.test", display_name="A"),
    )
    admin = bootstrap.album_admin(caller)
    assert admin.repo is catalogue and admin.cache is cache and admin.jobs is bootstrap.cleanup()
    assert admin.writer is bootstrap.pds_writer()


def test_reset_forgets_what_was_built() -> None:
    first = bootstrap.catalogue()
    bootstrap.reset()
    assert bootstrap.catalogue() is not first


def test_reset_gives_fresh_firehose_wiring() -> None:
    """The ingestion's composition root (bootstrap/firehose.py) caches its adapters too: a reset
    forgets them, so a test that changes the settings gets wiring built on them."""
    from albums_core.bootstrap import firehose

    wired = firehose.wiring()
    indexing = firehose.CatalogueIndexer(wired.catalogue).indexing
    assert firehose.wiring() is wired and firehose.CatalogueIndexer(wired.catalogue).indexing is indexing
    bootstrap.reset()
    fresh = firehose.wiring()
    assert fresh is not wired and fresh.catalogue is not wired.catalogue and fresh.jobs is not wired.jobs
    assert firehose.CatalogueIndexer(wired.catalogue).indexing is not indexing


def test_an_indexer_on_another_catalogue_keeps_the_shared_adapters() -> None:
    other: Any = object()
    indexing = bootstrap.indexing(other)
    assert indexing.repo is other and indexing.cache is bootstrap.page_cache() and indexing.jobs is bootstrap.jobs()


class _Tracer:
    def __init__(self, disabled: bool) -> None:
        self.disabled = disabled
        self.wrapped: list[str] = []

    def capture_method(self, method: Callable[..., Any]) -> Callable[..., Any]:
        self.wrapped.append(method.__name__)

        def traced(*args: Any, **kwargs: Any) -> Any:
            return ("traced", method(*args, **kwargs))

        return traced


class _Service:
    def entry(self, n: int) -> int:
        return n + 1

    def helper(self) -> str:
        return "plain"


def test_entry_points_are_traced_only_when_tracing_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    off = _Tracer(disabled=True)
    monkeypatch.setattr(bootstrap, "tracer", off)
    service = _Service()
    assert bootstrap.traced(service, "entry") is service
    assert service.entry(1) == 2 and off.wrapped == []  # tracing off: nothing wrapped, nothing to pay

    on = _Tracer(disabled=False)
    monkeypatch.setattr(bootstrap, "tracer", on)
    traced = bootstrap.traced(_Service(), "entry")
    assert traced.entry(1) == ("traced", 2) and traced.helper() == "plain"
    assert on.wrapped == ["entry"]
