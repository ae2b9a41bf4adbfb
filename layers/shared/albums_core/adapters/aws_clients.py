"""boto3 clients, created once per container and only when first used."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

_CONFIG = Config(
    connect_timeout=2,
    read_timeout=15,
    retries={"max_attempts": 3, "mode": "standard"},
    tcp_keepalive=True,
)


# Presigned POST forms signed with SigV4: botocore's default for them is SigV2, which S3
# buckets created after June 2020 refuse.
_S3_CONFIG = _CONFIG.merge(Config(signature_version="s3v4"))


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_S3_CONFIG if service == "s3" else _CONFIG)


def dynamodb() -> DynamoDBClient:
    return client("dynamodb")


def s3() -> S3Client:
    return client("s3")
