"""The one retry policy of the batch calls (adapters/dynamodb/table.py): what DynamoDB leaves
unprocessed is retried a bounded number of times, and when it stays unprocessed the caller gets
an error, never a partial read or a silently dropped delete. DynamoDB's throttling is a fault
moto cannot stage: botocore's Stubber answers instead (no connection is made)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from albums_core.adapters import aws_clients
from albums_core.adapters.dynamodb import table as table_module
from albums_core.adapters.dynamodb.catalogue import CatalogueRepository, CatalogueWriter
from albums_core.adapters.dynamodb.sweep_store import SweepStore
from albums_core.adapters.dynamodb.table import BATCH_ATTEMPTS, RetriesExhausted

TABLE = "catalogue"


def _key(n: int) -> dict[str, Any]:
    return {"pk": {"S": f"ARTIST#did:plc:{n}"}, "sk": {"S": "PROFILE"}}


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    with Stubber(client) as stubber:
        yield client, stubber


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def test_a_batch_get_whose_keys_stay_unprocessed_raises_instead_of_answering_part(
    stubbed: tuple[Any, Stubber], waits: list[float]
) -> None:
    client, stubber = stubbed
    found = {"Items": [{"pk": {"S": "ARTIST#did:plc:1"}, "sk": {"S": "PROFILE"}, "did": {"S": "did:plc:1"}}]}
    stubber.add_response(
        "batch_get_item",
        {"Responses": {TABLE: found["Items"]}, "UnprocessedKeys": {TABLE: {"Keys": [_key(2)]}}},
    )
    for _ in range(BATCH_ATTEMPTS - 1):
        stubber.add_response(
            "batch_get_item", {"Responses": {TABLE: []}, "UnprocessedKeys": {TABLE: {"Keys": [_key(2)]}}}
        )
    with pytest.raises(RetriesExhausted, match="unprocessed"):
        CatalogueRepository(TABLE, client).batch_get(
            [{"pk": "ARTIST#did:plc:1", "sk": "PROFILE"}, {"pk": "ARTIST#did:plc:2", "sk": "PROFILE"}]
        )
    stubber.assert_no_pending_responses()
    assert len(waits) == BATCH_ATTEMPTS - 1  # backed off between attempts, not after the last


def test_a_batch_get_collects_what_each_retry_returns(stubbed: tuple[Any, Stubber], waits: list[float]) -> None:
    client, stubber = stubbed
    one = {"pk": {"S": "ARTIST#did:plc:1"}, "sk": {"S": "PROFILE"}, "did": {"S": "did:plc:1"}}
    two = {"pk": {"S": "ARTIST#did:plc:2"}, "sk": {"S": "PROFILE"}, "did": {"S": "did:plc:2"}}
    stubber.add_response(
        "batch_get_item", {"Responses": {TABLE: [one]}, "UnprocessedKeys": {TABLE: {"Keys": [_key(2)]}}}
    )
    stubber.add_response(
        "batch_get_item", {"Responses": {TABLE: [two]}}, {"RequestItems": {TABLE: {"Keys": [_key(2)]}}}
    )
    keys = [{"pk": f"ARTIST#did:plc:{n}", "sk": "PROFILE"} for n in (1, 2)]
    assert [i["did"] for i in CatalogueRepository(TABLE, client).batch_get(keys)] == ["did:plc:1", "did:plc:2"]
    assert len(waits) == 1


def test_a_batch_write_whose_items_stay_unprocessed_raises(stubbed: tuple[Any, Stubber], waits: list[float]) -> None:
    client, stubber = stubbed
    request = {"DeleteRequest": {"Key": _key(1)}}
    for _ in range(BATCH_ATTEMPTS):
        stubber.add_response("batch_write_item", {"UnprocessedItems": {TABLE: [request]}})
    with pytest.raises(RetriesExhausted):
        CatalogueWriter(TABLE, client).batch_write([request])  # type: ignore[list-item]
    stubber.assert_no_pending_responses()


def test_the_sweep_raises_when_its_deletes_stay_unprocessed(
    stubbed: tuple[Any, Stubber], waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sweep used to give up after five attempts and report the page done: its expired
    # items stayed and its cursor moved past them.
    client, stubber = stubbed
    monkeypatch.setattr(aws_clients, "client", lambda service: client)
    expired = {"cache_key": {"S": "album#a"}}
    stubber.add_response("scan", {"Items": [expired], "LastEvaluatedKey": expired})
    for _ in range(BATCH_ATTEMPTS):
        stubber.add_response("batch_write_item", {"UnprocessedItems": {"cache": [{"DeleteRequest": {"Key": expired}}]}})
    with pytest.raises(RetriesExhausted):
        SweepStore(CatalogueWriter(TABLE, client)).delete_expired("cache", "cache_key", 1000.0, 100, None)


def test_the_backoff_grows_and_is_capped() -> None:
    waits = [table_module.batch_backoff(a) for a in range(BATCH_ATTEMPTS)]
    assert waits == sorted(waits) and waits[0] > 0 and max(waits) <= 1.0
