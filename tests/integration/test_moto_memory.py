"""The moto server the local runtime starts (local_runtime/moto_main.py): transactions snapshot
only what they touch yet still roll back whole, and the catalogue stream stays bounded.

A moto server of its own (its memory is what is measured), the catalogue table from
template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_runtime.processes import MotoServer
from local_runtime.resources import table_definitions
from local_runtime.stack import aws_session
from local_runtime.template import Stack

KEEP = 300  # ALBUMS_LOCAL_STREAM_KEEP for this server
MB = 2**20


@pytest.fixture(scope="module")
def server() -> Iterator[MotoServer]:
    moto = MotoServer(env={"ALBUMS_LOCAL_STREAM_KEEP": str(KEEP)}).start()
    yield moto
    moto.stop()


@pytest.fixture(scope="module")
def clients(server: MotoServer, stack: Stack) -> tuple[Any, Any, str]:
    session = aws_session(stack.region)
    dynamodb = session.client("dynamodb", endpoint_url=server.url)
    streams = session.client("dynamodbstreams", endpoint_url=server.url)
    spec = table_definitions(stack)["CatalogueTable"]["create"]
    dynamodb.create_table(**spec)
    return dynamodb, streams, spec["TableName"]


def item(pk: str, sk: str = "A", **extra: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in extra.items()}}


def get(dynamodb: Any, table: str, pk: str, sk: str = "A") -> dict[str, Any] | None:
    found: dict[str, Any] | None = dynamodb.get_item(TableName=table, Key=item(pk, sk)).get("Item")
    return found


def shard(dynamodb: Any, streams: Any, table: str) -> tuple[str, dict[str, Any]]:
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    (only,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    return arn, only


def iterator(streams: Any, arn: str, shard_id: str, kind: str) -> str:
    return str(streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType=kind)["ShardIterator"])


def read_all(streams: Any, it: str) -> tuple[list[dict[str, Any]], str]:
    records: list[dict[str, Any]] = []
    while True:
        out = streams.get_records(ShardIterator=it, Limit=1000)
        it = out["NextShardIterator"]
        records += out["Records"]
        if not out["Records"]:
            return records, it


def seqs(records: list[dict[str, Any]]) -> list[int]:
    return [int(r["dynamodb"]["SequenceNumber"]) for r in records]


def test_a_failed_condition_rolls_back_every_action_and_writes_no_stream_record(clients: tuple[Any, Any, str]) -> None:
    dynamodb, streams, table = clients
    dynamodb.put_item(TableName=table, Item=item("roll#a", title="before"))
    dynamodb.put_item(TableName=table, Item=item("roll#b", title="kept"))
    dynamodb.put_item(TableName=table, Item=item("roll#gone", title="deleted in the transaction"))
    arn, first = shard(dynamodb, streams, table)
    _, it = read_all(streams, iterator(streams, arn, first["ShardId"], "LATEST"))

    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": item("roll#a"),
                        "UpdateExpression": "SET title = :t",
                        "ExpressionAttributeValues": {":t": {"S": "after"}},
                    }
                },
                {"Put": {"TableName": table, "Item": item("roll#new", title="new")}},
                {"Delete": {"TableName": table, "Key": item("roll#gone")}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": item("roll#b"),
                        "ConditionExpression": "title = :x",
                        "ExpressionAttributeValues": {":x": {"S": "something else"}},
                    }
                },
            ]
        )
    error = refused.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert get(dynamodb, table, "roll#a") == item("roll#a", title="before")
    assert get(dynamodb, table, "roll#new") is None
    assert get(dynamodb, table, "roll#gone") == item("roll#gone", title="deleted in the transaction")
    assert get(dynamodb, table, "roll#b") == item("roll#b", title="kept")
    cancelled, it = read_all(streams, it)
    assert cancelled == [], "a cancelled transaction wrote stream records"

    # The stream goes on with the next sequence numbers; a committed transaction is all there.
    dynamodb.put_item(TableName=table, Item=item("roll#after"))
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": item("roll#new", title="new")}},
            {"Delete": {"TableName": table, "Key": item("roll#gone")}},
        ]
    )
    after, _ = read_all(streams, it)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in after] == [
        ("INSERT", "roll#after"),
        ("INSERT", "roll#new"),
        ("REMOVE", "roll#gone"),
    ]
    assert seqs(after) == list(range(seqs(after)[0], seqs(after)[0] + 3))
    assert get(dynamodb, table, "roll#gone") is None


def test_two_actions_on_one_item_are_refused_and_nothing_changes(clients: tuple[Any, Any, str]) -> None:
    dynamodb, _, table = clients
    dynamodb.put_item(TableName=table, Item=item("twice", title="one"))
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": item("twice#other", title="x")}},
                {"Put": {"TableName": table, "Item": item("twice", title="two")}},
                {"Delete": {"TableName": table, "Key": item("twice")}},
            ]
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert get(dynamodb, table, "twice") == item("twice", title="one")
    assert get(dynamodb, table, "twice#other") is None


def test_read_stream_records_beyond_the_bound_are_dropped_unread_ones_kept(clients: tuple[Any, Any, str]) -> None:
    dynamodb, streams, table = clients
    arn, first = shard(dynamodb, streams, table)
    reader = iterator(streams, arn, first["ShardId"], "LATEST")
    for n in range(KEEP * 2):
        dynamodb.put_item(TableName=table, Item=item(f"unread#{n}"))
    # Nobody has read these: all are kept, whatever the bound.
    seen, reader = read_all(streams, reader)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in seen] == [f"unread#{n}" for n in range(KEEP * 2)]
    for n in range(KEEP * 2):
        dynamodb.put_item(TableName=table, Item=item(f"more#{n}"))
    later, _ = read_all(streams, reader)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in later] == [f"more#{n}" for n in range(KEEP * 2)]
    assert seqs(later)[0] == seqs(seen)[-1] + 1
    # What every reader has seen is gone beyond the bound; the trim horizon moved with it.
    kept, _ = read_all(streams, iterator(streams, arn, first["ShardId"], "TRIM_HORIZON"))
    assert len(kept) <= KEEP * 2
    _, described = shard(dynamodb, streams, table)
    assert int(described["SequenceNumberRange"]["StartingSequenceNumber"]) == seqs(kept)[0] > seqs(seen)[0]


def test_memory_per_large_transaction_is_bounded(server: MotoServer, clients: tuple[Any, Any, str]) -> None:
    """moto 5.2.5 deep-copies the table once per action: 100 actions on a table of 3 000
    items held 100 copies of it (hundreds of MB). Snapshots of the touched items cost KBs."""
    dynamodb, streams, table = clients
    filler = "x" * 400
    for start in range(0, 3000, 25):
        dynamodb.batch_write_item(
            RequestItems={
                table: [{"PutRequest": {"Item": item(f"bulk#{n}", body=filler)}} for n in range(start, start + 25)]
            }
        )
    arn, first = shard(dynamodb, streams, table)
    reader = iterator(streams, arn, first["ShardId"], "TRIM_HORIZON")
    _, reader = read_all(streams, reader)

    def transaction(round_: int) -> None:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": item(f"bulk#{round_ * 100 + n}"),
                        "UpdateExpression": "SET round_no = :r",
                        "ExpressionAttributeValues": {":r": {"S": str(round_)}},
                    }
                }
                for n in range(100)
            ]
        )

    transaction(0)  # allocator warm-up
    _, reader = read_all(streams, reader)
    before = server.rss_bytes()
    for round_ in range(1, 6):
        transaction(round_)
        _, reader = read_all(streams, reader)
    growth = server.rss_bytes() - before
    assert growth < 20 * MB, f"moto grew {growth / MB:.0f} MB over five 100-action transactions"
    assert get(dynamodb, table, "bulk#599") == item("bulk#599", body=filler, round_no="5")


def test_a_query_walking_its_partition_only_keeps_results_order_filters_and_paging(
    clients: tuple[Any, Any, str],
) -> None:
    """The server's Query walks one partition (as DynamoDB does): results, order, filters and
    paging are what the query asks, whatever the other partitions hold."""
    dynamodb, _, table = clients
    for p in range(30):
        for s in range(12):
            colour = "red" if s % 3 else "blue"
            dynamodb.put_item(TableName=table, Item=item(f"QP#{p:02d}", f"S#{s:03d}", colour=colour))
    dynamodb.put_item(TableName=table, Item=item("QP#07x", "S#000"))  # a partition key that only begins alike

    def query(**params: Any) -> tuple[list[str], list[str]]:
        pages, seen = [], []
        start: dict[str, Any] | None = None
        while True:
            out = dynamodb.query(TableName=table, **params, **({"ExclusiveStartKey": start} if start else {}))
            seen.extend(i["sk"]["S"] for i in out["Items"])
            pages.append(str(len(out["Items"])))
            start = out.get("LastEvaluatedKey")
            if not start:
                return seen, pages

    everything, pages = query(
        KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "QP#07"}}, Limit=5
    )
    assert everything == [f"S#{s:03d}" for s in range(12)]
    assert pages == ["5", "5", "2"]
    backwards, _ = query(
        KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": {"S": "QP#07"}, ":a": {"S": "S#003"}, ":b": {"S": "S#008"}},
        ScanIndexForward=False,
    )
    assert backwards == [f"S#{s:03d}" for s in (8, 7, 6, 5, 4, 3)]
    blue, _ = query(
        KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
        FilterExpression="colour = :c",
        ExpressionAttributeValues={":p": {"S": "QP#07"}, ":s": {"S": "S#00"}, ":c": {"S": "blue"}},
        Limit=4,
    )
    assert blue == ["S#000", "S#003", "S#006", "S#009"]  # S#010 and S#011 are outside begins_with
    none, _ = query(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "QP#99"}})
    assert none == []
    counted = dynamodb.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "QP#07"}},
        Select="COUNT",
    )
    assert counted["Count"] == 12


def test_an_index_query_or_scan_meanwhile_sees_the_whole_table(clients: tuple[Any, Any, str]) -> None:
    """A partition Query shows moto's query only its partition's items. Index queries and scans
    running at the same moment in other threads see the whole table: they read an artist's
    tracks (gsi2) while a request reads an album's partition. They used to see that album's
    partition only (the view was set on the shared table), and the indexer, finding the
    artist's other tracks missing, created every one of them again."""
    import threading

    dynamodb, _, table = clients
    for n in range(40):
        dynamodb.put_item(
            TableName=table,
            Item=item(f"VT#{n:02d}", "TRACK", gsi2pk="ARTIST#view", gsi2sk=f"TRACK#{n:02d}"),
        )
    dynamodb.put_item(TableName=table, Item=item("VA#album", "ALBUM"))
    stop = threading.Event()

    def partition_reader() -> None:
        while not stop.is_set():
            dynamodb.query(
                TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "VA#album"}}
            )

    readers = [threading.Thread(target=partition_reader) for _ in range(3)]
    for r in readers:
        r.start()
    seen: list[int] = []
    try:
        for _ in range(150):
            out = dynamodb.query(
                TableName=table,
                IndexName="gsi2",
                KeyConditionExpression="gsi2pk = :p",
                ExpressionAttributeValues={":p": {"S": "ARTIST#view"}},
            )
            seen.append(len(out["Items"]))
            scanned = dynamodb.scan(
                TableName=table,
                FilterExpression="begins_with(pk, :v)",
                ExpressionAttributeValues={":v": {"S": "VT#"}},
            )
            seen.append(len(scanned["Items"]))
    finally:
        stop.set()
        for r in readers:
            r.join()
    assert set(seen) == {40}, sorted(set(seen))
