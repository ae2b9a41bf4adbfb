"""The local runtime's moto server (local_runtime/moto_main.py) answers index queries and stream
reads as stock moto does, though it walks only the index partition asked for and writes stream
records' JSON itself: the same writes on both servers, then the same questions, compared whole.

Two moto servers of their own (ours and `python -m moto.server`), the catalogue table from
template.yaml on each."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from local_runtime.processes import MotoServer, free_port, wait_http
from local_runtime.resources import table_definitions
from local_runtime.stack import aws_session
from local_runtime.template import Stack


@pytest.fixture(scope="module")
def stock() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def ours() -> Iterator[str]:
    moto = MotoServer().start()
    yield moto.url
    moto.stop()


def _clients(url: str, stack: Stack) -> tuple[Any, Any, str]:
    session = aws_session(stack.region)
    dynamodb = session.client("dynamodb", endpoint_url=url)
    spec = table_definitions(stack)["CatalogueTable"]["create"]
    dynamodb.create_table(**spec)
    return dynamodb, session.client("dynamodbstreams", endpoint_url=url), spec["TableName"]


def _items() -> list[dict[str, Any]]:
    """Three artists' tracks on gsi2 (a range of keys, equal sort keys across partitions), items
    without the index's keys, and every attribute type, binary ones included."""
    out: list[dict[str, Any]] = []
    for n in range(45):
        artist = f"ARTIST#{n % 3}"
        out.append(
            {
                "pk": {"S": f"ALBUM#{n % 5}"},
                "sk": {"S": f"TRACK#{n:03d}"},
                "gsi2pk": {"S": artist},
                "gsi2sk": {"S": f"TRACK#{n % 7:03d}"},  # ties: the table's keys order them
                "plays": {"N": str(n * 3)},
                "art": {"B": bytes([n, 0, 255])},
                "tags": {"SS": ["a", f"t{n}"]},
                "blobs": {"BS": [b"\x00\x01", bytes([n])]},
                "meta": {"M": {"l": {"L": [{"N": "1.50"}, {"NULL": True}, {"BOOL": n % 2 == 0}, {"B": b"\xff"}]}}},
            }
        )
    out.append({"pk": {"S": "ALBUM#0"}, "sk": {"S": "META"}, "title": {"S": "no index keys"}})
    out.append({"pk": {"S": "ALBUM#9"}, "sk": {"S": "TRACK#900"}, "gsi2pk": {"S": "ARTIST#1"}})  # no gsi2sk
    return out


QUERIES: list[dict[str, Any]] = [
    {"KeyConditionExpression": "gsi2pk = :a", "ExpressionAttributeValues": {":a": {"S": "ARTIST#1"}}},
    {
        "KeyConditionExpression": "gsi2pk = :a",
        "ExpressionAttributeValues": {":a": {"S": "ARTIST#2"}},
        "ScanIndexForward": False,
        "Limit": 4,
    },
    {
        "KeyConditionExpression": "gsi2pk = :a AND gsi2sk BETWEEN :x AND :y",
        "ExpressionAttributeValues": {":a": {"S": "ARTIST#0"}, ":x": {"S": "TRACK#002"}, ":y": {"S": "TRACK#004"}},
        "Limit": 2,
    },
    {
        "KeyConditionExpression": "gsi2pk = :a AND begins_with(gsi2sk, :p)",
        "FilterExpression": "plays > :n",
        "ExpressionAttributeValues": {":a": {"S": "ARTIST#1"}, ":p": {"S": "TRACK#00"}, ":n": {"N": "40"}},
        "Limit": 3,
    },
    {
        "KeyConditionExpression": "gsi2pk = :a",
        "ExpressionAttributeValues": {":a": {"S": "ARTIST#1"}},
        "Select": "COUNT",
    },
    {"KeyConditionExpression": "gsi2pk = :a", "ExpressionAttributeValues": {":a": {"S": "ARTIST#none"}}},
]


def _pages(dynamodb: Any, table: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        out = dynamodb.query(TableName=table, IndexName="gsi2", **query, **extra)
        out.pop("ResponseMetadata")
        pages.append(out)
        start = out.get("LastEvaluatedKey")
        if not start:
            return pages


def _written(url: str, stack: Stack) -> tuple[Any, Any, str]:
    dynamodb, streams, table = _clients(url, stack)
    for item in _items():
        dynamodb.put_item(TableName=table, Item=item)
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "ALBUM#1"}, "sk": {"S": "TRACK#001"}},
        UpdateExpression="SET plays = :p REMOVE art",
        ExpressionAttributeValues={":p": {"N": "7"}},
    )
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "ALBUM#2"}, "sk": {"S": "TRACK#002"}})
    return dynamodb, streams, table


def _records(dynamodb: Any, streams: Any, table: str) -> list[dict[str, Any]]:
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    it = it["ShardIterator"]
    records: list[dict[str, Any]] = []
    while True:
        out = streams.get_records(ShardIterator=it, Limit=20)
        assert out["NextShardIterator"]
        it = out["NextShardIterator"]
        if not out["Records"]:
            return records
        records += out["Records"]


def test_index_queries_and_stream_reads_answer_as_stock_moto(stock: str, ours: str, stack: Stack) -> None:
    stock_db, stock_streams, table = _written(stock, stack)
    our_db, our_streams, _ = _written(ours, stack)
    for query in QUERIES:
        expected = _pages(stock_db, table, query)
        assert _pages(our_db, table, query) == expected, query
    # ARTIST#1: 15 tracks (the item without gsi2sk is not in the index).
    assert sum(len(p["Items"]) for p in _pages(our_db, table, QUERIES[0])) == 15
    expected_records = _records(stock_db, stock_streams, table)
    got = _records(our_db, our_streams, table)
    assert len(got) == len(expected_records) == len(_items()) + 2

    def comparable(record: dict[str, Any]) -> dict[str, Any]:
        # Per server: the event's random id, when it was written, its sequence number, and
        # moto's size estimate (the length of a dump that holds the time).
        per_server = ("ApproximateCreationDateTime", "SequenceNumber", "SizeBytes")
        change = {k: v for k, v in record["dynamodb"].items() if k not in per_server}
        return {**{k: v for k, v in record.items() if k != "eventID"}, "dynamodb": change}

    assert [comparable(r) for r in got] == [comparable(r) for r in expected_records]
    for mine, theirs in zip(got, expected_records, strict=True):
        when = mine["dynamodb"]["ApproximateCreationDateTime"]
        assert when.tzinfo is not None and when.microsecond % 1000 == 0  # to the millisecond
        assert abs((when - theirs["dynamodb"]["ApproximateCreationDateTime"]).total_seconds()) < 60
        assert abs(mine["dynamodb"]["SizeBytes"] - theirs["dynamodb"]["SizeBytes"]) <= 8
    assert got[0]["dynamodb"]["NewImage"]["art"] == {"B": bytes([0, 0, 255])}  # decoded by the SDK: one base64
