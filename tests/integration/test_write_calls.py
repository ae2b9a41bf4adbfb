"""The calls a mutation makes, counted: the album read once per request, the track records read
by attach and rename from listing pages, one counter update for the new track ids, a few kept-alive PDS connections per
rename, and the stream consumer dropping each album page once per batch."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from bench.pds_proxy import CountingProxy

import albums_core.adapters.atproto.xrpc
from albums_core.adapters.atproto import safe_http
from albums_core.adapters.aws_clients import dynamodb
from albums_core.adapters.dynamodb import keys
from albums_core.adapters.dynamodb.codec import to_item
from albums_core.bootstrap import album_guard
from albums_core.domain.records import TRACK
from albums_core.services.album_admin import AlbumCaller
from local_runtime.lambda_host import LambdaHost
from local_runtime.modules import load_module
from local_runtime.pds import LocalPds
from local_runtime.processes import MotoServer
from local_runtime.stack import aws_session
from local_runtime.stream_pump import StreamPump
from local_runtime.template import local_stack
from tests.integration.conftest import reset_caches
from tests.integration.write_fixtures import Artist

ROOT = Path(__file__).resolve().parents[2]
ALBUM_KEY = "ALBUM"


@contextmanager
def dynamodb_calls(client: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every call `client` makes while entered: (operation, parameters)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, params))

    unique = f"test-{uuid.uuid4().hex}"
    client.meta.events.register("provide-client-params.dynamodb", record, unique_id=unique)
    try:
        yield calls
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb", record, unique_id=unique)


@contextmanager
def pds_calls() -> Iterator[list[str]]:
    """The NSID of every HTTP exchange the service's XRPC client makes while entered."""
    seen: list[str] = []
    original = albums_core.adapters.atproto.xrpc.request

    def counted(method: str, url: str, **kw: Any) -> Any:
        seen.append(urlsplit(url).path.rsplit("/xrpc/", 1)[-1])
        return original(method, url, **kw)

    albums_core.adapters.atproto.xrpc.request = counted  # type: ignore[assignment]
    try:
        yield seen
    finally:
        albums_core.adapters.atproto.xrpc.request = original  # type: ignore[assignment]


def album_reads(calls: list[tuple[str, dict[str, Any]]], album_id: str) -> int:
    key = to_item(keys.album(album_id))
    return sum(1 for op, p in calls if op == "GetItem" and p.get("Key") == key)


def publish(artist: Artist, n: int) -> list[str]:
    out = artist.pds.apply_writes(
        [
            {
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": TRACK,
                "value": {
                    "$type": TRACK,
                    "title": f"Counted {i}",
                    "artist": "A",
                    "fileType": "mp3",
                    "createdAt": "2026-01-01T00:00:00.000Z",
                },
            }
            for i in range(n)
        ],
        swap_commit=None,
    )
    return [str(r["uri"]) for r in out["results"]]


def album_of(artist: Artist, title: str, n: int) -> tuple[str, list[str]]:
    uris = publish(artist, n)
    _, created = artist.admin().create(title)
    album_id = str(created["id"])
    artist.admin().attach(album_id, uris)
    return album_id, uris


def test_attach_reads_the_track_records_in_a_listing_page_and_reserves_the_ids_in_one_update(alice: Artist) -> None:
    uris = publish(alice, 12)
    _, created = alice.admin().create("Counted Attach")
    admin = alice.admin()
    with pds_calls() as pds, dynamodb_calls(admin.repo.client) as ddb:
        out = admin.attach(str(created["id"]), uris)
    assert out["track_count"] == 12
    # The commit, one listRecords page with the twelve track records (fewer calls than a
    # getRecord each), the list record's own read, one applyWrites.
    assert Counter(pds) == {
        "com.atproto.sync.getLatestCommit": 1,
        "com.atproto.repo.listRecords": 1,
        "com.atproto.repo.getRecord": 1,
        "com.atproto.repo.applyWrites": 1,
    }, pds
    # The pending claims in one transaction (not a PutItem each).
    assert not [p for op, p in ddb if op == "PutItem" and "claim_state" in str(p.get("Item"))]
    counter_updates = [p for op, p in ddb if op == "UpdateItem" and p["Key"] == to_item(keys.track_id_counter())]
    assert len(counter_updates) == 1, counter_updates
    assert counter_updates[0]["ExpressionAttributeValues"][":n"] == {"N": "12"}
    loaded = admin.repo.load_album(str(created["id"]))
    assert loaded is not None
    # The reserved range: twelve consecutive ids.
    ids = sorted(t.id for t in loaded[1])
    assert ids == list(range(ids[0], ids[0] + 12)), ids


def _session_event(alice: Artist, album_id: str) -> dict[str, Any]:
    cookie = f"session_id={alice.caller.session.session_id}"
    return {"pathParameters": {"ref": album_id}, "headers": {}, "cookies": [cookie]}


def test_a_mutation_reads_the_album_once_the_guard_passes_it_on(alice: Artist) -> None:
    album_id, _ = album_of(alice, "Counted Guard", 3)
    client = dynamodb()
    with dynamodb_calls(client) as ddb:
        caller = album_guard("you can only update your own albums")(_session_event(alice, album_id))
        assert isinstance(caller, AlbumCaller) and caller.album and caller.album.id == album_id
        admin = alice.admin()
        admin.caller = caller
        admin.update(album_id, description="read once")
    # The guard's read; the lease's update returns the album instead of a read after it.
    assert album_reads(ddb, album_id) == 1, [op for op, _ in ddb]
    lease = [p for op, p in ddb if op == "UpdateItem" and "lock_token = :t" in p.get("UpdateExpression", "")]
    assert lease and lease[0]["ReturnValues"] == "ALL_NEW"


def test_a_rename_of_many_tracks_reuses_a_few_pds_connections(alice: Artist) -> None:
    album_id, _ = album_of(alice, "Counted Connections", 40)
    proxy = CountingProxy(alice.pds.pds_url.replace("//localhost:", "//127.0.0.1:")).start()
    try:
        safe_http.close_idle_connections()
        with pds_calls() as pds:
            out = alice.admin(via=proxy.url).update(album_id, title="Counted Connections Renamed")
        assert out["title"] == "Counted Connections Renamed"
        assert len(proxy.seen) == len(pds)
        # The 40 track records in one listRecords page, not a getRecord each, on a few connections.
        assert Counter(pds)["com.atproto.repo.listRecords"] == 1 and len(pds) <= 6, pds
        assert proxy.connections <= 10, (proxy.connections, len(pds))
    finally:
        safe_http.close_idle_connections()
        proxy.stop()


def test_a_rename_and_a_reorder_read_only_the_fields_of_the_tracks_they_write(alice: Artist) -> None:
    album_id, uris = album_of(alice, "Counted Projection", 4)
    admin = alice.admin()
    partition = to_item({"pk": keys.album_partition(album_id)})["pk"]

    def partition_reads(ddb: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        return [p for op, p in ddb if op == "Query" and p["ExpressionAttributeValues"].get(":pk") == partition]

    with dynamodb_calls(admin.repo.client) as ddb:
        out = admin.update(album_id, title="Counted Projection Renamed")
    assert (out["title"], out["track_count"]) == ("Counted Projection Renamed", 4)
    reads = partition_reads(ddb)
    assert reads and all("ProjectionExpression" in p for p in reads), reads
    loaded = admin.repo.load_album(album_id)
    assert loaded is not None
    rkey = str(loaded[0].list_uri).rsplit("/", 1)[1]
    with dynamodb_calls(admin.repo.client) as ddb:
        alice.admin().reorder_list(rkey, uris[::-1])
    reads = partition_reads(ddb)
    assert reads and all("ProjectionExpression" in p for p in reads), reads
    # The records' CIDs went to the catalogue with nothing else of the tracks lost.
    after = admin.repo.load_album(album_id)
    assert after is not None and after[0].track_order == uris[::-1]
    assert {t.title for t in after[1]} == {t.title for t in loaded[1]}
    assert all(t.record_cid and t.file_id for t in after[1])


# ---- the stream consumer -------------------------------------------------------------------


def _stream_handler() -> Callable[[dict[str, Any], Any], Any]:
    path = ROOT / "functions" / "process_catalogue_stream" / "app.py"
    return load_module("fn_process_catalogue_stream_counted", path).lambda_handler  # type: ignore[no-any-return]


def _context() -> Any:
    return SimpleNamespace(
        function_name="ProcessCatalogueStreamFunction",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:ProcessCatalogueStreamFunction",
        aws_request_id=str(uuid.uuid4()),
        get_remaining_time_in_millis=lambda: 290_000,
    )


@pytest.fixture
def captured(alice: Artist, moto: MotoServer, local_pds: LocalPds) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The stream records (as the function's filters pass them) of what the test does, taken
    from the stream without delivering them."""
    stack = local_stack(
        endpoint=moto.url, overrides={"PlcUrl": local_pds.plc_url, "HandleResolverUrl": local_pds.pds_url}
    )
    reset_caches()
    pump = StreamPump(stack, LambdaHost(stack, moto.url), aws_session(stack.region), moto.url)
    records: list[dict[str, Any]] = []

    def capture(function: str, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        records.extend(batch)
        return []

    pump._invoke = capture  # type: ignore[method-assign]
    pump.drain()  # what the fixtures wrote

    def take() -> list[dict[str, Any]]:
        records.clear()
        pump.drain()
        return list(records)

    yield take


def _deliver(batches: list[list[dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    handler = _stream_handler()
    with dynamodb_calls(dynamodb()) as ddb:
        for batch in batches:
            assert handler({"Records": batch}, _context()) == {"batchItemFailures": []}
    return ddb


def test_the_stream_consumer_drops_an_album_page_once_per_batch(
    alice: Artist, captured: Callable[[], list[dict[str, Any]]]
) -> None:
    album_id, _ = album_of(alice, "Counted Stream", 20)
    captured()
    alice.admin().update(album_id, title="Counted Stream Renamed")
    records = [r for r in captured() if r["dynamodb"]["Keys"]["sk"]["S"].startswith("TRACK#")]
    assert len(records) == 20
    batches = [records[i : i + 10] for i in range(0, len(records), 10)]  # the template's BatchSize
    ddb = _deliver(batches)
    ops = Counter(op for op, _ in ddb)
    # Per batch: the album and its artist read, one tombstone written.
    assert album_reads(ddb, album_id) == len(batches), ops
    assert ops["PutItem"] == len(batches), ops


def test_track_removals_of_an_album_already_gone_read_nothing(
    alice: Artist, captured: Callable[[], list[dict[str, Any]]]
) -> None:
    album_id, _ = album_of(alice, "Counted Removal", 4)
    captured()
    alice.admin().delete(album_id, False)
    records = captured()
    album_removed = [r for r in records if r["dynamodb"]["Keys"]["sk"]["S"] == ALBUM_KEY]
    track_removed = [
        r for r in records if r["eventName"] == "REMOVE" and r["dynamodb"]["Keys"]["sk"]["S"].startswith("TRACK#")
    ]
    assert len(album_removed) == 1 and len(track_removed) == 4
    # In the order the stream has them, one batch; then the album's removal seen first and
    # its tracks' removals in a later batch, as a cleanup job produces them.
    assert album_reads(_deliver([records]), album_id) == 0
    assert album_reads(_deliver([album_removed, track_removed]), album_id) == 0
