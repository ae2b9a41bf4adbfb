"""The layer's clients load trimmed SDK data (tools/botocore_data.py) and behave exactly as the
stock boto3 clients: same endpoints, partitions, presigned URLs and endpoint rule results."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from tools import botocore_data

from albums_core.adapters import aws_clients

LAYER = Path(__file__).resolve().parents[2] / "layers" / "shared" / "albums_core"
REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "us-gov-west-1", "cn-north-1"]


@pytest.fixture
def region(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", request.param)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws_clients.client.cache_clear()
    aws_clients._session.cache_clear()
    yield request.param
    aws_clients.client.cache_clear()
    aws_clients._session.cache_clear()


def _stock(service: str) -> Any:
    return boto3.Session().client(service, config=aws_clients._S3_CONFIG if service == "s3" else aws_clients._CONFIG)


@pytest.mark.parametrize("region", REGIONS, indirect=True)
@pytest.mark.parametrize("service", botocore_data.SERVICES)
def test_a_client_on_the_trimmed_data_resolves_as_the_stock_one(region: str, service: str) -> None:
    ours, stock = aws_clients.client(service), _stock(service)
    assert ours._loader.search_paths[0] == str(aws_clients._DATA)
    assert (ours.meta.endpoint_url, ours.meta.region_name, ours.meta.partition) == (
        stock.meta.endpoint_url,
        stock.meta.region_name,
        stock.meta.partition,
    )
    operations = botocore_data.OPERATIONS.get(service) or stock.meta.service_model.operation_names
    assert sorted(ours.meta.service_model.operation_names) == sorted(operations)
    snake = list(ours.meta.method_to_api_mapping)
    assert [ours.can_paginate(m) for m in snake] == [stock.can_paginate(m) for m in snake]
    kept = set(ours.meta.method_to_api_mapping.values())
    waiters = [w for w in stock.waiter_names if stock.get_waiter(w).config.operation in kept]
    assert ours.waiter_names == waiters
    # Each shape as botocore has it but for its documentation; every shape a kept operation reaches.
    mine = ours.meta.service_model._shape_resolver._shape_map
    theirs = stock.meta.service_model._shape_resolver._shape_map
    # json.dumps keeps the order: S3's XML serializer writes a structure's members in that order.
    assert all(json.dumps(mine[name]) == json.dumps(botocore_data._undocumented(theirs[name])) for name in mine)
    for name in operations:
        errors = [e.name for e in stock.meta.service_model.operation_model(name).error_shapes]
        assert [e.name for e in ours.meta.service_model.operation_model(name).error_shapes] == errors


@pytest.mark.parametrize("region", ["us-east-1"], indirect=True)
def test_the_ssm_client_has_what_powertools_parameters_calls(region: str) -> None:
    ssm = aws_clients.client("ssm")
    for method in ("get_parameter", "get_parameters", "put_parameter"):
        assert callable(getattr(ssm, method))
    assert ssm.can_paginate("get_parameters_by_path")
    assert ssm.exceptions.InvalidKeyId and ssm.exceptions.InternalServerError and ssm.exceptions.ParameterNotFound


@pytest.mark.parametrize("region", REGIONS, indirect=True)
@pytest.mark.parametrize("bucket", ["albums-covers-dev", "b"])
def test_presigned_s3_urls_are_the_stock_ones(region: str, bucket: str) -> None:
    """With endpoint data botocore takes for a customer's, it would hand the legacy URL to the
    rule sets: presigned URLs would name the regional host where boto3 names the global one."""
    ours, stock = aws_clients.client("s3"), _stock("s3")
    post, stock_post = ours.generate_presigned_post(bucket, "k"), stock.generate_presigned_post(bucket, "k")
    assert post["url"] == stock_post["url"]
    assert sorted(post["fields"]) == sorted(stock_post["fields"])
    params = {"Bucket": bucket, "Key": "k"}
    url = ours.generate_presigned_url("get_object", Params=params)
    assert url.split("?")[0] == stock.generate_presigned_url("get_object", Params=params).split("?")[0]


@pytest.mark.parametrize("region", REGIONS, indirect=True)
def test_dynamodb_rule_set_endpoint_is_the_stock_one(region: str) -> None:
    def endpoint(client: Any) -> str:
        operation = client.meta.service_model.operation_model("GetItem")
        return str(client._ruleset_resolver.construct_endpoint(operation, {"TableName": "t"}, {}).url)

    assert endpoint(aws_clients.client("dynamodb")) == endpoint(_stock("dynamodb"))


def _client_services() -> set[str]:
    """Every literal service name the layer passes to `client(...)`."""
    found = set()
    for path in LAYER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            func = node.func if isinstance(node, ast.Call) else None
            named = (isinstance(func, ast.Name) and func.id == "client") or (
                isinstance(func, ast.Attribute) and func.attr == "client"
            )
            if isinstance(node, ast.Call) and named and node.args and isinstance(node.args[0], ast.Constant):
                found.add(str(node.args[0].value))
    return found


def test_every_service_the_layer_calls_is_in_the_trimmed_data() -> None:
    services = _client_services()
    assert {"dynamodb", "s3", "ssm", "kms", "sqs"} <= services
    assert services <= set(botocore_data.SERVICES)


def test_the_trimmed_data_is_what_the_pinned_botocore_gives() -> None:
    assert botocore_data.main(["--check"]) == 0
