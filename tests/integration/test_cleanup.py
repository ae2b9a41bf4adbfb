"""Event-triggered cleanups against moto's real stream and the real local PDS: album deletions
handed over to the stream consumer, retries, dead letters, parked credentials, the sweep."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from albums_core import bootstrap
from albums_core.adapters.atproto import xrpc
from albums_core.adapters.aws_clients import client
from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.page_cache import AlbumPageCache, album_cache_key, now_ms
from albums_core.config import settings
from albums_core.domain.records import TRACK
from local_runtime.lambda_host import LambdaHost
from local_runtime.pds import LocalPds
from local_runtime.processes import MotoServer
from local_runtime.stack import aws_session
from local_runtime.stream_pump import StreamPump
from local_runtime.template import local_stack
from tests.integration.conftest import reset_caches
from tests.integration.write_fixtures import PASSWORDS, Artist
from tests.support.fault_proxy import FaultProxy, Rule


@pytest.fixture
def pump(alice: Artist, moto: MotoServer, local_pds: LocalPds) -> Iterator[StreamPump]:
    stack = local_stack(
        endpoint=moto.url, overrides={"PlcUrl": local_pds.plc_url, "HandleResolverUrl": local_pds.pds_url}
    )
    host = LambdaHost(stack, moto.url)
    reset_caches()  # the functions' environment (the dead-letter queue's URL) is now set
    stream = StreamPump(stack, host, aws_session(stack.region), moto.url)
    stream.drain()  # what the fixtures wrote
    yield stream


def big_album(artist: Artist, title: str, n: int) -> tuple[str, list[str]]:
    """An album of n tracks published on the PDS and indexed (as an artist who already
    publishes on ATProto would have it)."""
    uris: list[str] = []
    for start in range(0, n, 200):
        writes = [
            {
                "$type": "com.atproto.repo.applyWrites#create",
                "collection": TRACK,
                "value": {
                    "$type": TRACK,
                    "title": f"{title} {i}",
                    "artist": "A",
                    "fileType": "mp3",
                    "createdAt": "2026-01-01T00:00:00.000Z",
                    "keepMe": i,
                    "album": title,
                },
            }
            for i in range(start, min(n, start + 200))
        ]
        uris += [r["uri"] for r in artist.pds.apply_writes(writes, swap_commit=None)["results"]]
    artist.publish_list(title, uris)
    bootstrap.indexing().sync_artist(artist.caller.artist)
    loaded = CatalogueWriter().load_album_by_slug(artist.caller.artist.handle, title.lower().replace(" ", "-"))
    assert loaded is not None and len(loaded[2]) == n
    return loaded[1].id, uris


def dead_letters() -> list[dict[str, Any]]:
    out = client("sqs").receive_message(QueueUrl=settings().dead_letter_queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in out.get("Messages", [])]


def assert_agree(artist: Artist, album_id: str, uris: list[str], cascade: bool) -> None:
    repo = CatalogueWriter()
    assert repo.get_album(album_id) is None
    assert bootstrap.cleanup().remaining_tracks(album_id) == []
    local = {t.record_uri: t for t in repo.artist_tracks(artist.did)}
    on_pds = {r.uri: r for r in xrpc.list_records(artist.pds.pds_url, artist.did, TRACK)}
    for uri in uris:
        if cascade:
            assert uri not in on_pds and uri not in local
        else:
            record = on_pds[uri]
            assert "album" not in record.value and "keepMe" in record.value
            assert local[uri].album_id is None and local[uri].record_cid == record.cid
    assert not list(
        repo._query_all(
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :p",
            ExpressionAttributeValues={":p": {"S": f"JOBS#{artist.did}"}},
        )
    )


@pytest.mark.parametrize("cascade", [False, True])
def test_deleting_a_500_track_album(alice: Artist, pump: StreamPump, faulty: FaultProxy, cascade: bool) -> None:
    album_id, uris = big_album(alice, f"Huge {cascade}", 500)
    album = CatalogueWriter().get_album(album_id)
    assert album is not None
    AlbumPageCache().put(album_cache_key("alice.test", album.slug), '{"stale": true}', now_ms())
    assert alice.admin(via=faulty.url).delete(album_id, cascade) == {"deleted": True, "cascade": cascade}
    # Within the API's timeout whatever the size: the request's own work does not grow with the
    # tracks (one PDS write, of the list record; every track still there for the cleanup).
    assert faulty.calls.count("com.atproto.repo.applyWrites") == 1
    repo = CatalogueWriter()
    assert len(bootstrap.cleanup().remaining_tracks(album_id)) == 500
    # gone from every read at once, while the cleanup has not run yet
    assert repo.get_album(album_id) is None and repo.load_album_by_slug("alice.test", album.slug) is None
    assert AlbumPageCache().get(album_cache_key("alice.test", album.slug)) is None
    assert not alice.exists(album.list_uri or "")
    pump.drain()
    assert_agree(alice, album_id, uris, cascade)
    assert dead_letters() == []


def test_pds_failures_midway_are_retried_and_converge(alice: Artist, pump: StreamPump, faulty: FaultProxy) -> None:
    album_id, uris = big_album(alice, "Flaky", 500)
    # the first applyWrites of the cleanup (200 writes) fails, once
    alice.admin(via=faulty.url).delete(album_id, False)
    faulty.rules.append(Rule("com.atproto.repo.applyWrites", times=1))
    pump.drain()
    assert_agree(alice, album_id, uris, False)
    assert dead_letters() == []


def test_refused_credentials_park_the_job_until_the_next_login(
    alice: Artist, pump: StreamPump, faulty: FaultProxy
) -> None:
    album_id, uris = big_album(alice, "Parked", 150)
    alice.admin(via=faulty.url).delete(album_id, False)
    faulty.rules += [
        Rule("com.atproto.repo.applyWrites", status=401, times=100),
        Rule("com.atproto.server.refreshSession", status=401, times=100),
    ]
    pump.drain()
    repo = CatalogueWriter()
    jobs = repo._query_all(
        IndexName="gsi2",
        KeyConditionExpression="gsi2pk = :p",
        ExpressionAttributeValues={":p": {"S": f"JOBS#{alice.did}"}},
    )
    assert [j["status"] for j in jobs] == ["parked"]
    assert len(bootstrap.cleanup().remaining_tracks(album_id)) == 150
    faulty.rules.clear()
    bootstrap.auth().login("alice.test", PASSWORDS["alice.test"])  # the artist's next session
    pump.drain()
    assert_agree(alice, album_id, uris, False)


def test_a_poison_record_goes_to_the_dead_letter_queue_and_the_batch_goes_on(alice: Artist, pump: StreamPump) -> None:
    _, good = alice.admin().create("Fine")
    _, bad = alice.admin().create("Poisoned")
    repo = CatalogueWriter()
    repo.client.update_item(
        TableName=repo.table,
        Key={"pk": {"S": f"ALBUM#{bad['id']}"}, "sk": {"S": "ALBUM"}},
        UpdateExpression="SET image_id = :i",
        ExpressionAttributeValues={":i": {"S": "../../x"}},
    )
    pump.drain()
    alice.admin().delete(bad["id"], False)
    alice.admin().delete(good["id"], False)
    pump.drain()
    letters = dead_letters()
    assert len(letters) == 1 and "malformed image id" in letters[0]["reason"]
    assert letters[0]["record"]["dynamodb"]["OldImage"]["id"]["S"] == bad["id"]


def test_redrive_once_the_cause_is_fixed(alice: Artist, pump: StreamPump, faulty: FaultProxy) -> None:
    from tools.redrive import redrive_local

    album_id, uris = big_album(alice, "Redriven", 120)
    alice.admin(via=faulty.url).delete(album_id, True)
    faulty.rules.append(Rule("com.atproto.repo.applyWrites", times=1000))
    pump.drain()
    assert len(dead_letters_peek()) == 1
    assert "PdsUnavailable" in dead_letters_peek_reason()
    faulty.rules.clear()
    assert redrive_local(pump.host) == 1
    assert_agree(alice, album_id, uris, True)
    assert dead_letters_peek() == []


def dead_letters_peek() -> list[dict[str, Any]]:
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=settings().dead_letter_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return [{}] * int(attrs["ApproximateNumberOfMessages"])


def test_the_same_batch_delivered_twice_changes_nothing_the_second_time(alice: Artist, pump: StreamPump) -> None:
    album_id, uris = big_album(alice, "Twice", 120)
    stack_records: list[dict[str, Any]] = []
    original = pump._invoke

    def capture(function: str, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stack_records.extend(batch)
        return original(function, batch)

    pump._invoke = capture  # type: ignore[method-assign]
    alice.admin().delete(album_id, False)
    pump.drain()
    pump._invoke = original  # type: ignore[method-assign]
    before = {r.uri: r.cid for r in xrpc.list_records(alice.pds.pds_url, alice.did, TRACK)}
    again = pump.host.invoke("ProcessCatalogueStreamFunction", {"Records": stack_records})
    assert again == {"batchItemFailures": []}
    after = {r.uri: r.cid for r in xrpc.list_records(alice.pds.pds_url, alice.did, TRACK)}
    assert before == after
    assert_agree(alice, album_id, uris, False)


def test_sweep_removes_old_unreferenced_covers_and_keeps_the_rest(alice: Artist, pump: StreamPump) -> None:
    s3 = client("s3")
    bucket = settings().covers_bucket
    referenced = "a" * 32
    orphan = "b" * 32
    for image_id in (referenced, orphan):
        s3.put_object(Bucket=bucket, Key=f"images/{image_id}.png", Body=b"x")
    _, meta = alice.admin().create("Referenced")
    repo = CatalogueWriter()
    album = repo.get_album(meta["id"])
    assert album is not None
    repo.set_album_fields(album, image_id=referenced)
    now = datetime.now(UTC)
    assert bootstrap.sweep(now).run()["covers_deleted"] == 0  # fresh: kept
    report = bootstrap.sweep(now + timedelta(days=2)).run()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert f"images/{referenced}.png" in keys and f"images/{orphan}.png" not in keys
    assert report["covers_deleted"] == 1


def test_sweep_removes_expired_cache_and_session_items(aws_env: None) -> None:
    dynamodb = client("dynamodb")
    past = str(int(time.time()) - 10)
    dynamodb.put_item(TableName=settings().cache_table, Item={"cache_key": {"S": "old"}, "expires_at": {"N": past}})
    dynamodb.put_item(
        TableName=settings().cache_table,
        Item={"cache_key": {"S": "live"}, "expires_at": {"N": str(int(time.time()) + 600)}},
    )
    dynamodb.put_item(
        TableName=settings().sessions_table, Item={"session_key": {"S": "gone"}, "expires_at": {"N": past}}
    )
    report = bootstrap.sweep(datetime.now(UTC)).run()
    assert report["cache_items_deleted"] == 1 and report["sessions_deleted"] == 1
    assert "Item" in dynamodb.get_item(TableName=settings().cache_table, Key={"cache_key": {"S": "live"}})


def dead_letters_peek_reason() -> str:
    out = client("sqs").receive_message(QueueUrl=settings().dead_letter_queue_url, VisibilityTimeout=0)
    return json.loads(out["Messages"][0]["Body"])["reason"] if out.get("Messages") else ""
