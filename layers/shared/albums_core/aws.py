"""boto3 clients, created once per container and only when first used."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    connect_timeout=2,
    read_timeout=15,
    retries={"max_attempts": 3, "mode": "standard"},
    tcp_keepalive=True,
)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def dynamodb() -> Any:
    return client("dynamodb")
