"""boto3 clients, created once per container and only when first used."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.loaders import Loader

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


# The SDK data of the services the layer calls, trimmed (tools/botocore_data.py): a client made
# from it skips botocore's listing of ~400 services and its 1.2 MB endpoints file, about 45 ms
# of each client's creation, most of a read function's first call (bench section 1).
_DATA = Path(__file__).with_name("botocore_data")


class _TrimmedDataLoader(Loader):
    """Loads from the trimmed folder alone, and takes it for botocore's own data, which it is:
    with endpoint data from elsewhere botocore hands the legacy resolver's URL to the endpoint
    rule sets (S3's presigned URLs, DynamoDB's account endpoints would change). A service not in
    the folder has no client here: credentials must come from the environment (as on Lambda and
    locally), not from a profile that assumes a role through STS or SSO."""

    def __init__(self) -> None:
        super().__init__(extra_search_paths=[str(_DATA)], include_default_search_paths=False)

    def is_builtin_path(self, path: str) -> bool:
        return Path(path).is_relative_to(_DATA) or super().is_builtin_path(path)


@cache
def _session() -> boto3.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _TrimmedDataLoader())
    return boto3.Session(botocore_session=core)


@cache
def client(service: str) -> Any:
    return _session().client(service, config=_S3_CONFIG if service == "s3" else _CONFIG)


def dynamodb() -> DynamoDBClient:
    return client("dynamodb")


def s3() -> S3Client:
    return client("s3")
