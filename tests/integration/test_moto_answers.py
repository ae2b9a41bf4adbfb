"""The local runtime's moto server (local_runtime/moto_main.py) answers as stock moto does, though
it walks only the index partition asked for and writes the JSON of item answers and stream
records itself (local_runtime/moto_answers.py): the same calls on both servers, the answers
compared whole.

Two moto servers of their own (ours and `python -m moto.server`), the catalogue table from
template.yaml on each."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

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


def _clients(url: str, stack: Stack, name: str) -> tuple[Any, Any, str]:
    """The catalogue table as template.yaml defines it, under a name of the test's own."""
    session = aws_session(stack.region)
    dynamodb = session.client("dynamodb", endpoint_url=url)
    spec = {**table_definitions(stack)["CatalogueTable"]["create"], "TableName": name}
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
        pages.append(_sets_sorted(out))
        start = out.get("LastEvaluatedKey")
        if not start:
            return pages


def _written(url: str, stack: Stack, name: str) -> tuple[Any, Any, str]:
    dynamodb, streams, table = _clients(url, stack, name)
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
        assert out["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.0"
        assert out["NextShardIterator"]
        it = out["NextShardIterator"]
        if not out["Records"]:
            return records
        records += out["Records"]


KEY = {"pk": {"S": "ALBUM#1"}, "sk": {"S": "TRACK#001"}}
BIN_KEY = {"pk": {"S": "BIN"}, "sk": {"S": "A"}}
# (operation, parameters): every item operation, with what changes its answer's shape.
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("get_item", {"Key": KEY}),
    ("get_item", {"Key": KEY, "ProjectionExpression": "plays, meta.l[3], art", "ReturnConsumedCapacity": "TOTAL"}),
    ("get_item", {"Key": {"pk": {"S": "none"}, "sk": {"S": "none"}}}),
    ("put_item", {"Item": {**BIN_KEY, "b": {"B": b"\x00\xfe"}}, "ReturnValues": "ALL_OLD"}),
    (
        "put_item",
        {"Item": {**BIN_KEY, "b": {"B": b"\x01"}}, "ReturnValues": "ALL_OLD", "ReturnConsumedCapacity": "INDEXES"},
    ),
    ("put_item", {"Item": {**BIN_KEY, "c": {"N": "1"}}, "ReturnItemCollectionMetrics": "SIZE"}),
    (
        "update_item",
        {
            "Key": KEY,
            "UpdateExpression": "SET plays = plays + :one, art = :art",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":art": {"B": b"\xaa"}},
            "ReturnValues": "ALL_NEW",
        },
    ),
    ("update_item", {"Key": KEY, "UpdateExpression": "REMOVE tags", "ReturnValues": "UPDATED_OLD"}),
    ("update_item", {"Key": KEY, "UpdateExpression": "SET x = :x", "ExpressionAttributeValues": {":x": {"S": "y"}}}),
    ("delete_item", {"Key": BIN_KEY, "ReturnValues": "ALL_OLD", "ReturnConsumedCapacity": "TOTAL"}),
    ("delete_item", {"Key": BIN_KEY}),
    ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "ALBUM#3"}}}),
    (
        "query",
        {
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "ALBUM#3"}},
            "Limit": 2,
            "ProjectionExpression": "sk, blobs",
            "ReturnConsumedCapacity": "TOTAL",
        },
    ),
    ("scan", {"Limit": 7}),
    ("scan", {"FilterExpression": "plays > :n", "ExpressionAttributeValues": {":n": {"N": "100"}}, "Select": "COUNT"}),
    (
        "batch_get_item",
        {"RequestItems": {"{table}": {"Keys": [KEY, {"pk": {"S": "ALBUM#4"}, "sk": {"S": "TRACK#004"}}, BIN_KEY]}}},
    ),
    (
        "batch_write_item",
        {
            "RequestItems": {
                "{table}": [
                    {"PutRequest": {"Item": {"pk": {"S": "BW"}, "sk": {"S": "1"}, "b": {"BS": [b"\x01", b"\x02"]}}}},
                    {"DeleteRequest": {"Key": {"pk": {"S": "ALBUM#0"}, "sk": {"S": "META"}}}},
                ]
            },
            "ReturnConsumedCapacity": "TOTAL",
        },
    ),
    (
        "transact_get_items",
        {
            "TransactItems": [
                {"Get": {"TableName": "{table}", "Key": KEY}},
                {"Get": {"TableName": "{table}", "Key": BIN_KEY}},
            ]
        },
    ),
    (
        "transact_write_items",
        {
            "TransactItems": [
                {"Put": {"TableName": "{table}", "Item": {"pk": {"S": "TW"}, "sk": {"S": "1"}, "b": {"B": b"\x07"}}}},
                {"Delete": {"TableName": "{table}", "Key": {"pk": {"S": "BW"}, "sk": {"S": "1"}}}},
            ],
            "ReturnConsumedCapacity": "TOTAL",
        },
    ),
    # The legacy AttributeUpdates: moto stores a PUT's raw value under S, and answers it as str.
    (
        "update_item",
        {
            "Key": {"pk": {"S": "LEGACY"}, "sk": {"S": "1"}},
            "AttributeUpdates": {
                "bb": {"Value": {"B": b"\x05"}, "Action": "PUT"},
                "on": {"Value": {"BOOL": True}, "Action": "PUT"},
            },
            "ReturnValues": "ALL_NEW",
        },
    ),
    ("query", {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "LEGACY"}}}),
    ("put_item", {"Item": {"pk": {"S": "TW"}, "sk": {"S": "1"}}, "ConditionExpression": "attribute_not_exists(pk)"}),
    ("get_item", {"Key": {"pk": {"S": "TW"}, "sk": {"S": "1"}}}),
]


def _answer(dynamodb: Any, table: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    params = _with_table(params, table)  # RequestItems' keys and TransactItems' entries name it
    if operation not in ("batch_get_item", "batch_write_item", "transact_get_items", "transact_write_items"):
        params = {"TableName": table, **params}
    try:
        out: dict[str, Any] = getattr(dynamodb, operation)(**params)
    except ClientError as exc:
        out = {"error": exc.response["Error"], "status": exc.response["ResponseMetadata"]["HTTPStatusCode"]}
    out.pop("ResponseMetadata", None)
    return _sets_sorted(out)


def _sets_sorted(value: Any) -> Any:
    """A set's members in one order: moto keeps them in a Python set, whose order is the process's."""
    if isinstance(value, dict):
        return {k: sorted(v) if k in ("SS", "NS", "BS") else _sets_sorted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sets_sorted(v) for v in value]
    return value


def _with_table(value: Any, table: str) -> Any:
    if isinstance(value, dict):
        return {(table if k == "{table}" else k): _with_table(v, table) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_table(v, table) for v in value]
    return table if value == "{table}" else value


def test_item_operations_answer_as_stock_moto(stock: str, ours: str, stack: Stack) -> None:
    stock_db, _, table = _written(stock, stack, "items")
    our_db, _, _ = _written(ours, stack, "items")
    for operation, params in CALLS:
        expected = _answer(stock_db, table, operation, params)
        assert _answer(our_db, table, operation, params) == expected, (operation, params)
    refused = _answer(our_db, table, *CALLS[-2])
    assert "error" not in _answer(our_db, table, "get_item", {"Key": {"pk": {"S": "LEGACY"}, "sk": {"S": "1"}}})
    assert refused["error"]["Code"] == "ConditionalCheckFailedException"  # the error path is moto's own


def test_index_queries_and_stream_reads_answer_as_stock_moto(stock: str, ours: str, stack: Stack) -> None:
    stock_db, stock_streams, table = _written(stock, stack, "index-and-stream")
    # Our records' times lie between these two (to the millisecond: the earlier one truncated).
    before = datetime.now(UTC).replace(microsecond=0)
    our_db, our_streams, _ = _written(ours, stack, "index-and-stream")
    after = datetime.now(UTC)
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

    assert [_sets_sorted(comparable(r)) for r in got] == [_sets_sorted(comparable(r)) for r in expected_records]
    for mine, theirs in zip(got, expected_records, strict=True):
        when = mine["dynamodb"]["ApproximateCreationDateTime"]
        assert when.tzinfo is not None and when.microsecond % 1000 == 0  # to the millisecond
        assert before <= when <= after, (before, when, after)
        assert abs(mine["dynamodb"]["SizeBytes"] - theirs["dynamodb"]["SizeBytes"]) <= 8
    assert got[0]["dynamodb"]["NewImage"]["art"] == {"B": bytes([0, 0, 255])}  # decoded by the SDK: one base64
