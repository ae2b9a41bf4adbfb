"""What every store kept in the catalogue table beside the catalogue shares (the firehose's lease,
repository states, likes, gaps): the table and client of one catalogue, and a count of the
DynamoDB calls made (the benchmark reads it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from albums_core.adapters.dynamodb.catalogue import CatalogueWriter
from albums_core.adapters.dynamodb.table import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_RACED = ("ConditionalCheckFailedException", "TransactionCanceledException")


def raced(exc: ClientError) -> bool:
    """A conditional write or transaction refused because another writer got there first."""
    return error_code(exc) in _RACED


class CatalogueStore:
    def __init__(self, repo: CatalogueWriter | None = None) -> None:
        self.repo = repo or CatalogueWriter()
        self.calls = 0  # DynamoDB calls made here

    @property
    def client(self) -> DynamoDBClient:
        return self.repo.client

    @property
    def table(self) -> str:
        return self.repo.table
